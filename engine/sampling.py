"""What happens at every denoising step: progress, previews, cancel, ``--stop``, ``--chaos``.

One :class:`StepHooks` is built per pipeline call and passed as ``callback_on_step_end``.
``--stop`` ends sampling early and decodes the scheduler's x0 prediction (a softer, finished
image) instead of the half-denoised latents (noise); the x0 prediction is captured by
wrapping the scheduler's ``step`` for the duration of the call (:func:`capture_x0`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from engine.chaos import ChaosNoise
from engine.errors import JobCancelledError
from engine.request import Progress

__all__ = ["LATENT_RGB", "StepHooks", "capture_x0", "latents_preview"]

# Linear maps from the 4 latent channels to RGB: free, recognisable previews.
LATENT_RGB = {
    "sd": (
        [
            [0.3512, 0.2297, 0.3227],
            [0.3250, 0.4974, 0.2350],
            [-0.2829, 0.1762, 0.2721],
            [-0.2120, -0.2616, -0.7177],
        ],
        [0.0, 0.0, 0.0],
    ),
    "sdxl": (
        [
            [0.3920, 0.4054, 0.4549],
            [-0.2634, -0.0196, 0.0653],
            [0.0568, 0.1687, -0.0755],
            [-0.3112, -0.2359, -0.2076],
        ],
        [0.1084, -0.0175, -0.0011],
    ),
}
PREVIEW_FRACTIONS = (0.25, 0.5, 0.75)


@dataclass
class X0Holder:
    latest: Any = None


@contextmanager
def capture_x0(scheduler: Any) -> Iterator[X0Holder]:
    """Record the x0 prediction of every ``scheduler.step`` while the block runs."""
    holder = X0Holder()
    original = scheduler.step

    def step(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        predicted = getattr(out, "pred_original_sample", None)
        if predicted is None and isinstance(out, tuple) and len(out) > 1:
            predicted = out[1]
        if predicted is None:
            outputs = getattr(scheduler, "model_outputs", None)  # DPM-Solver, UniPC
            predicted = outputs[-1] if outputs else None
        holder.latest = predicted
        return out

    scheduler.step = step
    try:
        yield holder
    finally:
        del scheduler.step  # back to the class's method


def latents_preview(latents: Any, architecture: str) -> list[Any]:
    """Cheap RGB previews (1/8 size) of a batch of latents, as PIL images."""
    import torch
    from PIL import Image

    weights, bias = LATENT_RGB[architecture]
    matrix = torch.tensor(weights, dtype=torch.float32)
    with torch.no_grad():
        rgb = torch.einsum("bchw,cr->bhwr", latents.float().cpu(), matrix)
        rgb = rgb + torch.tensor(bias)
        pixels = ((rgb + 1) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    return [Image.fromarray(p) for p in pixels]


@dataclass
class StepHooks:
    """The ``callback_on_step_end`` of one pipeline call."""

    architecture: str
    stop: int = 100
    cancel: threading.Event | None = None
    on_progress: Callable[[Progress], None] | None = None
    on_preview: Callable[[list[Any]], Any] | None = None
    chaos: ChaosNoise | None = None
    x0: X0Holder = field(default_factory=X0Holder)
    steps_run: int = 0
    _next_preview: int = 0

    @property
    def tensor_inputs(self) -> list[str]:
        names = ["latents"]
        if self.chaos is not None:
            names.append("prompt_embeds")
            if self.architecture == "sdxl":
                names.append("add_text_embeds")
        return names

    def __call__(self, pipe: Any, index: int, timestep: Any, kwargs: dict[str, Any]) -> Any:
        total = int(pipe.num_timesteps)
        done = index + 1
        self.steps_run = done
        if self.cancel is not None and self.cancel.is_set():
            raise JobCancelledError("cancelled")
        last = self.stop < 100 and done >= math.ceil(total * self.stop / 100)
        if last and self.x0.latest is not None:
            kwargs["latents"] = self.x0.latest
            pipe._interrupt = True  # skip the remaining steps, then decode x0
        if self.chaos is not None and not last:
            self._apply_chaos(pipe, kwargs, remaining=1 - done / total)
        if self.on_progress is not None:
            preview = self._preview(done, total, kwargs["latents"], last)
            self.on_progress(Progress(done, total if not last else done, preview))
        return kwargs

    def _apply_chaos(self, pipe: Any, kwargs: dict[str, Any], remaining: float) -> None:
        import torch

        assert self.chaos is not None  # noqa: S101 - checked by the caller
        fresh = self.chaos.apply(remaining)
        names = self.tensor_inputs[1:]
        for name, condition in zip(names, fresh, strict=True):
            current = kwargs[name]
            if pipe.do_classifier_free_guidance:  # [unconditional, conditional] halves
                half = current.shape[0] // 2
                kwargs[name] = torch.cat([current[:half], condition])
            else:
                kwargs[name] = condition

    def _preview(self, done: int, total: int, latents: Any, last: bool) -> Any:
        if self.on_preview is None or last or done >= total:
            return None
        due = [math.ceil(f * total) for f in PREVIEW_FRACTIONS]
        if done not in due:
            return None
        source = self.x0.latest if self.x0.latest is not None else latents
        return self.on_preview(latents_preview(source, self.architecture))
