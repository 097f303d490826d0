"""Several users' compatible first grids rendered in one pipeline call (one UNet batch).

On a GPU a 2×2 grid leaves the UNet under-used; stacking the grids of a few users who asked
for the same kind of render fills it for little more time than one grid takes. Requests with
equal :func:`batch_key` s can share a call; :func:`render_batch` concatenates their text
conditioning, starting noise and per-image generators, calls the pipeline once and hands each
member back its own :class:`GenerationResult` (or error), exactly as
:func:`engine.operations.render` would have built it. Every image is still drawn from its
own seed, so batching changes no picture beyond float rounding (the tests bound it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from engine.conditioning import weird_part
from engine.display import for_display
from engine.errors import EngineError, GPUOutOfMemoryError, InvalidRequestError, JobCancelledError
from engine.house_style import (
    DEFAULT_HOUSE_STYLES,
    HouseStyle,
    HouseStyles,
    house_conditioning,
)
from engine.inputs import check_request, effective_references
from engine.models import Architecture, LoadedModel
from engine.operations import (
    PreviewFn,
    chaos_noise,
    effective_parameters,
    effective_stop,
    free_memory,
    request_look,
    schedule_steps,
    steps_for,
)
from engine.plans import Plan, finish, plan_for
from engine.request import (
    GenerationRequest,
    GenerationResult,
    Operation,
    Progress,
    WeightedText,
)
from engine.sampling import StepHooks, capture_x0

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["BatchKey", "batch_key", "render_batch"]

Listener = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class BatchKey:
    """What every member of one pipeline call must share (see :func:`batch_key`)."""

    model: LoadedModel  # compared by identity (LoadedModel has eq=False)
    version: str | None
    size: tuple[int, int]
    steps: int
    guidance: float
    sampler: str
    stop: int
    chaos: int


def batch_key(
    model: LoadedModel, request: GenerationRequest, house: HouseStyles = DEFAULT_HOUSE_STYLES
) -> Hashable | None:
    """The key of the pipeline calls ``request`` may share; ``None``: it must run alone.

    Why each part is there:

    * **one model, one version** — the call runs one set of weights; the version picks the
      model (and its house look), so a caller may group by key before resolving models.
    * **first grids only** (``Operation.IMAGINE``) — that is where queues fill up with
      independent work; follow-ups carry per-job source images, masks and strengths.
    * **same size** — the latents of one call form one tensor.
    * **same number of steps** (``--quality``, ``steps``) and **same sampler** — one call
      runs one schedule; the sampler is the model's pipeline's.
    * **same guidance** (``--stylize`` and the house style's guidance change) — diffusers'
      ``guidance_scale`` is one scalar per call.
    * **same ``--stop``** — stopping interrupts the whole call.
    * **same ``--chaos``** — its condition noise and layout noise use one strength per call
      (each image keeps its own seeded noise, so members with the same chaos batch exactly).
    * **no ``--tile``** — circular padding is switched on for the whole UNet and VAE.
    * **no references** (IP-Adapter) — the adapters are loaded into the UNet for one job.
    * **no ``--lora``** — LoRAs are fused into the shared weights for one job.

    Requests the engine would refuse (a bad ``--stylize`` or ``--style``) get ``None`` too, so
    :func:`engine.operations.render` reports their error to their user alone.
    """
    if (
        request.operation is not Operation.IMAGINE
        or request.tile
        or request.loras
        or effective_references(request)
    ):
        return None
    try:
        check_request(request)
        _, _, guidance = request_look(model, request, house)
        plan = plan_for(model, request, request.count)
    except EngineError:
        return None
    return BatchKey(
        model=model,
        version=request.version,
        size=plan.size,
        steps=schedule_steps(steps_for(model, request), plan.strength),
        guidance=guidance,
        sampler=type(plan.pipe.scheduler).__name__,
        stop=effective_stop(request),
        chaos=request.chaos,
    )


@dataclass
class _Member:
    """One request of the batch and what the call needs from it."""

    request: GenerationRequest
    cancel: threading.Event | None
    listener: Listener | None
    seeds: tuple[int, ...]
    parts: list[WeightedText]
    negative: str
    look: HouseStyle | None
    strength: float
    guidance: float
    rows: slice = field(default_factory=lambda: slice(0))
    conditioning: dict[str, Any] = field(default_factory=dict)


def render_batch(
    model: LoadedModel,
    requests: Sequence[GenerationRequest],
    *,
    cancels: Sequence[threading.Event | None],
    on_progress: Sequence[Listener | None],
    on_preview: PreviewFn | None = None,
    house: HouseStyles = DEFAULT_HOUSE_STYLES,
) -> list[GenerationResult | EngineError]:
    """Render ``requests`` (equal :func:`batch_key` s, else :class:`InvalidRequestError`) in one
    pipeline call; slot ``i`` holds request ``i``'s result or its error.

    Each member gets every step on its own ``on_progress`` (with its own cells' preview,
    made by ``on_preview``); a member whose ``cancels`` event is set gets
    :class:`JobCancelledError` and no further progress; the call stops when every member is
    cancelled. Running out of GPU memory fails every member.
    """
    import torch

    started = time.perf_counter()
    # 1. Check: one key for all, one cancel event and one listener per request.
    if len(cancels) != len(requests) or len(on_progress) != len(requests):
        raise InvalidRequestError("a batch needs one cancel event and one listener per request")
    if not requests:
        return []
    keys = {batch_key(model, request, house) for request in requests}
    if None in keys or len(keys) != 1:
        raise InvalidRequestError("these requests cannot share one pipeline call")
    outcomes: list[GenerationResult | EngineError | None] = [None] * len(requests)
    members: dict[int, _Member] = {}
    for index, request in enumerate(requests):
        cancel = cancels[index]
        if cancel is not None and cancel.is_set():
            outcomes[index] = JobCancelledError("cancelled before it started")
        else:
            members[index] = _member(model, request, cancel, on_progress[index], house)
    if not members:
        return _filled(outcomes)
    # 2. Each member's text conditioning (its own prompt, --no, --weird, house look), stacked
    # along the batch; its seeds' generators in the same order.
    first = next(iter(members.values()))
    plan = plan_for(model, first.request, sum(len(m.seeds) for m in members.values()))
    sdxl = model.architecture is Architecture.SDXL
    row = 0
    for member in members.values():
        member.conditioning = house_conditioning(
            plan.pipe, member.parts, member.negative, len(member.seeds), sdxl, member.look,
            member.strength,
        )  # fmt: skip
        member.rows = slice(row, row + len(member.seeds))
        row += len(member.seeds)
    seeds = tuple(seed for member in members.values() for seed in member.seeds)
    conditioning = {
        name: torch.cat([m.conditioning[name] for m in members.values()])
        for name in first.conditioning
    }
    # 3. --chaos (one strength, per-image seeded noise) and the step hooks.
    chaos = chaos_noise(first.request, seeds, conditioning, sdxl)
    if chaos is not None:
        from engine.chaos import initial_latents

        width, height = plan.size
        conditioning["latents"] = initial_latents(
            plan.pipe, seeds, width, height, first.request.chaos
        )
    fan = _FanOut(list(members.values()), on_preview)
    hooks = StepHooks(
        model.architecture.value, effective_stop(first.request), None, fan.progress,
        fan.collect if fan.wants_previews else None, chaos,
    )  # fmt: skip
    fan.inner = hooks
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    # 4. Denoise and decode once, for everybody.
    try:
        with capture_x0(plan.pipe.scheduler) as x0:
            hooks.x0 = x0
            output = plan.pipe(
                **conditioning,
                **plan.kwargs,
                num_inference_steps=schedule_steps(steps_for(model, first.request), None),
                guidance_scale=first.guidance,
                generator=generators,
                output_type="pil",
                callback_on_step_end=fan,
                callback_on_step_end_tensor_inputs=hooks.tensor_inputs,
            )
    except JobCancelledError:
        return _filled(outcomes, lambda: JobCancelledError("cancelled"))
    except torch.cuda.OutOfMemoryError:
        free_memory()
        return _filled(
            outcomes,
            lambda: GPUOutOfMemoryError(
                "the GPU ran out of memory for this batch of jobs; try a smaller size"
            ),
        )
    finally:
        plan.pipe._interrupt = False
    # 5. Split the images back, finish each member's result like render does.
    finished: dict[int, tuple[Image.Image, ...]] = {}
    for index, member in members.items():
        if fan.is_cancelled(member):
            outcomes[index] = JobCancelledError("cancelled")
            continue
        finished[index] = tuple(
            for_display(finish(member.request, plan, image), model.native)
            for image in output.images[member.rows]
        )
        if member.listener is not None:
            member.listener(Progress(hooks.steps_run, hooks.steps_run))
    seconds = time.perf_counter() - started
    for index, images in finished.items():
        outcomes[index] = _result(model, members[index], plan, images, hooks.steps_run, seconds)
    return _filled(outcomes)


def _member(
    model: LoadedModel,
    request: GenerationRequest,
    cancel: threading.Event | None,
    listener: Listener | None,
    house: HouseStyles,
) -> _Member:
    look, strength, guidance = request_look(model, request, house)
    parts = list(request.prompt)
    weird = weird_part(request.weird)
    if weird is not None:
        parts.append(weird)
    return _Member(
        request=replace(request, references=effective_references(request)),
        cancel=cancel,
        listener=listener,
        seeds=request.resolved_seeds(),
        parts=parts,
        negative=", ".join(request.negative),
        look=look,
        strength=strength,
        guidance=guidance,
    )


@dataclass
class _FanOut:
    """The call's ``callback_on_step_end``: tracks cancels, then runs the usual
    :class:`StepHooks` (``--stop``, ``--chaos``, previews) whose progress it hands to each
    member still running, with the preview of that member's own cells."""

    members: list[_Member]
    on_preview: PreviewFn | None
    inner: StepHooks | None = None
    cancelled: set[int] = field(default_factory=set)
    _previews: list[Any] | None = None

    @property
    def wants_previews(self) -> bool:
        return self.on_preview is not None and any(m.listener for m in self.members)

    def is_cancelled(self, member: _Member) -> bool:
        return id(member) in self.cancelled or (
            member.cancel is not None and member.cancel.is_set()
        )

    def __call__(self, pipe: Any, index: int, timestep: Any, kwargs: dict[str, Any]) -> Any:
        assert self.inner is not None  # noqa: S101 - set before the call
        self.cancelled.update(id(m) for m in self.members if self.is_cancelled(m))
        if len(self.cancelled) == len(self.members):
            raise JobCancelledError("cancelled")  # nobody waits for these images
        return self.inner(pipe, index, timestep, kwargs)

    def collect(self, images: list[Any]) -> None:
        self._previews = images

    def progress(self, progress: Progress) -> None:
        images, self._previews = self._previews, None
        for member in self.members:
            if member.listener is None or id(member) in self.cancelled:
                continue
            preview = None
            if images is not None and self.on_preview is not None:
                preview = self.on_preview(images[member.rows])
            member.listener(Progress(progress.step, progress.total, preview))


def _result(
    model: LoadedModel,
    member: _Member,
    plan: Plan,
    images: tuple[Image.Image, ...],
    steps_run: int,
    seconds: float,
) -> GenerationResult:
    request = member.request
    width, height = images[0].size
    parameters = effective_parameters(
        request, plan, steps=steps_for(model, request), guidance=member.guidance,
        negative=member.negative, parts=member.parts, house_strength=member.strength,
        size=(width, height),
    )  # fmt: skip
    return GenerationResult(
        images, member.seeds, width, height, steps_run, model.source, seconds, parameters
    )


def _filled(
    outcomes: Sequence[GenerationResult | EngineError | None],
    error: Callable[[], EngineError] | None = None,
) -> list[GenerationResult | EngineError]:
    """The outcomes, each slot still open given its own ``error()``."""
    filled: list[GenerationResult | EngineError] = []
    for outcome in outcomes:
        if outcome is None:
            assert error is not None  # noqa: S101 - without one, every slot is decided
            outcome = error()
        filled.append(outcome)
    return filled
