"""The optimisation loop: pixels pulled toward the content's features and the style's Grams,
coarse to fine, one loss evaluation per step, cancellable at every step.

Every step is one forward and backward pass of the backbone: L-BFGS runs one iteration per
``step()`` without line search (its history carries over between steps), Adam one update.
The optimised variable is the pixels' logit (pixels = sigmoid(logit)), so every image is in
``[0, 1]`` without clamping: clamping between steps hides the constraint from L-BFGS, whose
curvature pairs then describe steps that never happened — at high strengths it overshot into
black or noise. The logit keeps the problem smooth and unconstrained.
Large images start at a half or a quarter of their size: the coarse scales settle the
large-scale structure cheaply and each finer one starts from the previous result, upsampled.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import JobCancelledError
from engine.request import TransferOptimizer
from engine.transfer.backbone import Backbone
from engine.transfer.losses import (
    CONTENT_LAYER,
    STYLE_LAYERS,
    TV_WEIGHT,
    LossTargets,
    content_loss,
    style_loss,
    total_variation,
)

__all__ = [
    "ADAM_LR",
    "COARSE_ABOVE",
    "INIT_NOISE",
    "LBFGS_HISTORY",
    "Outcome",
    "Stage",
    "optimise",
    "plan_stages",
]

LAYERS = (*STYLE_LAYERS, CONTENT_LAYER)
COARSE_ABOVE = 512
"""Images with a longer side start at half (up to 1024) or a quarter of their size."""
MIN_COARSE_SIDE = 64
STAGE_SHARES = {1: (1.0,), 2: (0.6, 0.4), 3: (0.5, 0.3, 0.2)}
"""The steps' split over the scales, coarse to fine (coarse steps are cheap)."""
INIT_NOISE = 0.02
"""Amplitude of the seeded uniform noise added to the content at the start: the seed's
only influence (same seed, same pixels), and texture can grow in flat regions."""
ADAM_LR = 0.05
"""In logit units (a pixel moves up to a quarter of this per step)."""
LBFGS_HISTORY = 20
LOGIT_EPS = 1e-3
"""Pixels start within ``[eps, 1 − eps]`` so their logits are finite."""
SIDE_MULTIPLE = 8

StepCallback = Callable[[int, int, Any], None]
"""``(step, total, image tensor)`` after each step (the tensor is the live one: read only)."""


@dataclass(frozen=True, slots=True)
class Stage:
    size: tuple[int, int]
    steps: int


@dataclass(slots=True)
class Outcome:
    """The optimised image (``1×C×H×W`` in ``[0, 1]``), steps run, and the content and
    style losses after each step (for tests and benchmarks)."""

    image: Any
    steps_run: int
    content_losses: list[float] = field(default_factory=list)
    style_losses: list[float] = field(default_factory=list)


def plan_stages(size: tuple[int, int], steps: int) -> tuple[Stage, ...]:
    """The scales (coarse to fine, sides multiples of 8, the last ``size``) and their steps."""
    width, height = size
    longest = max(size)
    count = 1 if longest <= COARSE_ABOVE else 2 if longest <= 2 * COARSE_ABOVE else 3
    while count > 1 and min(size) / 2 ** (count - 1) < MIN_COARSE_SIDE:
        count -= 1
    count = max(1, min(count, steps))
    shares = STAGE_SHARES[count]
    counts = [max(1, math.floor(steps * share)) for share in shares[:-1]]
    counts.append(steps - sum(counts))
    stages = []
    for level, stage_steps in zip(range(count - 1, -1, -1), counts, strict=True):
        if level == 0:
            stages.append(Stage(size, stage_steps))
            continue
        factor = 2**level
        stages.append(Stage((_multiple(width / factor), _multiple(height / factor)), stage_steps))
    return tuple(stages)


def optimise(
    backbone: Backbone,
    content: Any,
    style: Any,
    stages: tuple[Stage, ...],
    *,
    ratio: float,
    optimizer: TransferOptimizer,
    seed: int,
    cancel: threading.Event | None = None,
    on_step: StepCallback | None = None,
    start: Any | None = None,
) -> Outcome:
    """Optimise from ``content`` (``1×C×H×W`` in ``[0, 1]``, ``C`` 3, or 1 for luminance,
    at the final size) toward ``style`` (its own size; resized per scale to the scale's longer
    side), starting from ``content`` (or ``start``) plus the seed's faint noise; raises
    :class:`JobCancelledError` when ``cancel`` is set before a step."""
    import torch

    total = sum(stage.steps for stage in stages)
    outcome = Outcome(content, 0)
    generator = torch.Generator("cpu").manual_seed(seed)
    first = content if start is None else _resized(start, _size(content))
    noise = (torch.rand(first.shape, generator=generator) * 2 - 1) * INIT_NOISE
    image: Any = (first + noise.to(first.device)).clamp(0, 1)
    content_losses: list[Any] = []
    style_losses: list[Any] = []
    for stage in stages:
        # 1. The scale's targets: the content's activation, the style's Grams.
        content_here = _resized(content, stage.size)
        style_here = _resized(style, _fit_long_side(style.shape, max(stage.size)))
        with torch.no_grad():
            targets = LossTargets.of(
                backbone.features(_rgb(content_here), LAYERS),
                backbone.features(_rgb(style_here), LAYERS),
            )
        # 2. The optimised logits, contiguous (L-BFGS views its parameters flat).
        start_here = _resized(image.detach(), stage.size).clamp(LOGIT_EPS, 1 - LOGIT_EPS)
        logits = torch.logit(start_here).contiguous().requires_grad_(True)
        step_once = _stepper(optimizer, logits, backbone, targets, ratio)
        # 3. One loss evaluation per step.
        for _ in range(stage.steps):
            if cancel is not None and cancel.is_set():
                raise JobCancelledError("cancelled")
            losses = step_once()
            content_losses.append(losses[0])
            style_losses.append(losses[1])
            outcome.steps_run += 1
            if on_step is not None:
                with torch.no_grad():
                    on_step(outcome.steps_run, total, torch.sigmoid(logits))
        with torch.no_grad():
            image = torch.sigmoid(logits)
    outcome.image = image.detach()
    outcome.content_losses = [float(v) for v in content_losses]
    outcome.style_losses = [float(v) for v in style_losses]
    return outcome


def _stepper(
    kind: TransferOptimizer, logits: Any, backbone: Backbone, targets: LossTargets, ratio: float
) -> Callable[[], tuple[Any, Any]]:
    """A function doing one optimiser step and returning that step's (content, style) loss."""
    import torch

    last: list[Any] = [None, None]

    def closure() -> Any:
        optimiser.zero_grad(set_to_none=True)
        pixels = torch.sigmoid(logits)
        features = backbone.features(_rgb(pixels), LAYERS)
        content = content_loss(features, targets)
        style = style_loss(features, targets)
        # Divided by 1 + ratio: the same scale at every strength (the first L-BFGS step and
        # Adam's early steps are sized by it).
        loss = (content + ratio * style + TV_WEIGHT * total_variation(pixels)) / (1 + ratio)
        loss.backward()
        last[0], last[1] = content.detach(), style.detach()
        return loss

    optimiser: Any
    if kind is TransferOptimizer.LBFGS:
        # max_iter=1: one evaluation per step; zero tolerances: a step is never skipped.
        optimiser = torch.optim.LBFGS(
            [logits],
            lr=1.0,
            max_iter=1,
            history_size=LBFGS_HISTORY,
            tolerance_grad=0.0,
            tolerance_change=0.0,
        )
    else:
        optimiser = torch.optim.Adam([logits], lr=ADAM_LR)

    def step() -> tuple[Any, Any]:
        optimiser.step(closure)
        return last[0], last[1]

    return step


def _rgb(image: Any) -> Any:
    return image if image.shape[1] == 3 else image.expand(-1, 3, -1, -1)


def _resized(image: Any, size: tuple[int, int]) -> Any:
    import torch

    width, height = size
    if tuple(image.shape[-2:]) == (height, width):
        return image
    resized = torch.nn.functional.interpolate(
        image, size=(height, width), mode="bilinear", align_corners=False, antialias=True
    )
    return resized.clamp(0, 1)


def _size(image: Any) -> tuple[int, int]:
    return int(image.shape[-1]), int(image.shape[-2])


def _fit_long_side(shape: Any, side: int) -> tuple[int, int]:
    height, width = int(shape[-2]), int(shape[-1])
    scale = side / max(width, height)
    return max(16, round(width * scale)), max(16, round(height * scale))


def _multiple(side: float) -> int:
    return max(SIDE_MULTIPLE, math.floor(side / SIDE_MULTIPLE) * SIDE_MULTIPLE)
