"""``Operation.TRANSFER``: one request rendered by neural style transfer (worker thread).

:func:`transfer` reads as numbered steps: check the request, choose the size and settings,
take the luminance for ``preserve_colors``, optimise, finish. It needs no diffusion model;
the backbone comes from ``engine.transfer.backbone``. One image is rendered with the
request's first seed (``count`` has no meaning here).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from engine.canvas import CANVAS_PIXEL_BUDGET
from engine.errors import InvalidRequestError
from engine.grid import preview
from engine.request import (
    EffectiveParameters,
    GenerationRequest,
    GenerationResult,
    Operation,
    Progress,
    TransferSpec,
    random_seed,
)
from engine.transfer.backbone import Backbone
from engine.transfer.losses import STRENGTH_MAX, TV_WEIGHT, style_ratio
from engine.transfer.optimize import Stage, optimise, plan_stages

__all__ = [
    "DEFAULT_STEPS",
    "MAX_SIDE",
    "MIN_SIDE",
    "PREVIEWS",
    "check_transfer",
    "output_size",
    "pixel_budget",
    "transfer",
    "transfer_steps",
]

DEFAULT_STEPS = 200
MIN_SIDE = 64
MAX_SIDE = 2048
SIDE_MULTIPLE = 8
MIN_SHORT_SIDE = 16
"""VGG19 halves an image four times before block5_conv1: a side under 16 px vanishes."""
PREVIEWS = 8
"""About this many previews per job."""
PREVIEW_SIDE = 256
YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    dtype=np.float32,
)
RGB_FROM_YIQ = np.linalg.inv(YIQ).astype(np.float32)

Frame = Callable[[Any], Image.Image]


def pixel_budget(device: str) -> int:
    """The most pixels a transfer renders on ``device``: the engine's canvas budget (2.25 ×
    native²) at native 512 on CPU and 1024 on GPUs (a CPU step at 512² takes seconds)."""
    native = 512 if device.startswith("cpu") else 1024
    return int(CANVAS_PIXEL_BUDGET * native * native)


def transfer_steps(spec: TransferSpec) -> int:
    return spec.steps if spec.steps is not None else DEFAULT_STEPS


def check_transfer(request: GenerationRequest) -> TransferSpec:
    """The request's :class:`TransferSpec`; raises :class:`InvalidRequestError` for what
    cannot be rendered as asked."""
    spec = request.transfer
    if request.source is None:
        raise InvalidRequestError("a style transfer needs a content image")
    if spec is None:
        raise InvalidRequestError("a style transfer needs a style image")
    if not 0 <= spec.strength <= STRENGTH_MAX:
        raise InvalidRequestError(
            f"the style strength must be 0–{STRENGTH_MAX}, not {spec.strength}"
        )
    if spec.steps is not None and spec.steps < 1:
        raise InvalidRequestError(f"a style transfer needs at least 1 step, not {spec.steps}")
    if spec.size is not None and not MIN_SIDE <= spec.size <= MAX_SIDE:
        raise InvalidRequestError(
            f"the transfer size must be {MIN_SIDE}–{MAX_SIDE} px, not {spec.size}"
        )
    content, style = _rgb(request.source), _rgb(spec.style)
    if content.size == style.size and content.tobytes() == style.tobytes():
        raise InvalidRequestError("the content and style images are the same image")
    return spec


def output_size(content: tuple[int, int], long_side: int | None, budget: int) -> tuple[int, int]:
    """The result's size: the content's (or ``long_side`` long, aspect kept) within
    ``budget`` pixels, sides multiples of 8."""
    width, height = content
    if max(content) < MIN_SIDE:
        raise InvalidRequestError(
            f"the content image is too small ({width}×{height}); style transfer needs a "
            f"longer side of at least {MIN_SIDE} px"
        )
    scale = (long_side or max(content)) / max(content)
    scale = min(scale, math.sqrt(budget / (width * height)))
    size = (_multiple(width * scale), _multiple(height * scale))
    if min(size) < MIN_SHORT_SIDE:
        raise InvalidRequestError(
            f"the content image is too narrow ({width}×{height}) for style transfer"
        )
    return size


def transfer(
    backbone: Backbone,
    request: GenerationRequest,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> GenerationResult:
    """Render ``request`` (``Operation.TRANSFER``) with ``backbone``; raises
    :class:`~engine.errors.EngineError` subclasses."""
    started = time.perf_counter()
    # 1. Check inputs.
    if request.operation is not Operation.TRANSFER:
        raise InvalidRequestError(f"{request.operation} is not a style transfer")
    spec = check_transfer(request)
    # 2. Size, seed, steps and the scales they run at.
    content = _rgb(request.source)
    size = output_size(content.size, spec.size, pixel_budget(backbone.device))
    if size != content.size:
        content = content.resize(size, Image.Resampling.LANCZOS)
    seed = _seed(request)
    steps = transfer_steps(spec)
    stages = plan_stages(size, steps)
    ratio = style_ratio(spec.strength)
    if spec.strength == 0:  # the content unchanged: nothing to optimise
        image, steps_run = content, 0
    else:
        # 3. Luminance only for preserve_colors: the style's matched to the content's
        # mean and spread, the content's chroma put back at the end (Gatys et al. 2016).
        if spec.preserve_colors:
            luma = _yiq(content)[..., 0]
            content_in = _tensor(luma, backbone.device)
            style_in = _tensor(_matched_luma(_rgb(spec.style), luma), backbone.device)

            def frame(pixels: Any) -> Image.Image:
                return _with_chroma(_array(pixels)[..., 0], content)
        else:
            content_in = _tensor(_floats(content), backbone.device)
            style_in = _tensor(_floats(_rgb(spec.style)), backbone.device)

            def frame(pixels: Any) -> Image.Image:
                return Image.fromarray(_bytes(_array(pixels)))

        # 4. Optimise, with progress and previews on the way.
        outcome = optimise(
            backbone,
            content_in,
            style_in,
            stages,
            ratio=ratio,
            optimizer=spec.optimizer,
            seed=seed,
            cancel=cancel,
            on_step=_reporter(on_progress, frame),
        )
        # 5. Finish.
        image, steps_run = frame(outcome.image), outcome.steps_run
    if on_progress is not None:
        on_progress(Progress(steps_run, steps_run))
    parameters = _parameters(spec, image.size, steps, ratio, stages, backbone)
    return GenerationResult(
        (image,),
        (seed,),
        image.width,
        image.height,
        steps_run,
        backbone.name,
        time.perf_counter() - started,
        parameters,
    )


def _parameters(
    spec: TransferSpec,
    size: tuple[int, int],
    steps: int,
    ratio: float,
    stages: tuple[Stage, ...],
    backbone: Backbone,
) -> EffectiveParameters:
    """The diffusion-only fields neutral, the transfer's settings under ``transfer``."""
    return EffectiveParameters.without_diffusion_prompt(
        Operation.TRANSFER,
        steps=steps if spec.strength else 0,
        size=size,
        sampler=str(spec.optimizer),
        transfer={
            "backbone": backbone.name,
            "strength": spec.strength,
            "style_content_ratio": ratio,
            "tv_weight": TV_WEIGHT,
            "preserve_colors": spec.preserve_colors,
            "optimizer": str(spec.optimizer),
            "scales": [[*stage.size, stage.steps] for stage in stages] if spec.strength else [],
        },
    )


def _reporter(
    on_progress: Callable[[Progress], None] | None, frame: Frame
) -> Callable[[int, int, Any], None] | None:
    if on_progress is None:
        return None

    def report(step: int, total: int, pixels: Any) -> None:
        every = max(1, total // PREVIEWS)
        shown = None
        if step % every == 0 and step < total:
            shown = preview(frame(pixels.detach()), PREVIEW_SIDE)
        on_progress(Progress(step, total, shown))

    return report


def _seed(request: GenerationRequest) -> int:
    if request.seeds:
        return request.seeds[0]
    return request.seed if request.seed is not None else random_seed()


def _rgb(image: Image.Image | None) -> Image.Image:
    assert image is not None  # noqa: S101 - checked in check_transfer
    return image if image.mode == "RGB" else image.convert("RGB")


def _floats(image: Image.Image) -> np.ndarray[Any, Any]:
    return np.asarray(image, dtype=np.float32) / 255.0


def _bytes(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    quantised: np.ndarray[Any, Any] = (np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return quantised


def _yiq(image: Image.Image) -> np.ndarray[Any, Any]:
    yiq: np.ndarray[Any, Any] = _floats(image) @ YIQ.T
    return yiq


def _matched_luma(style: Image.Image, luma: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The style's luminance shifted and scaled to the content's mean and spread."""
    style_luma = _yiq(style)[..., 0]
    spread = luma.std() / max(float(style_luma.std()), 1e-6)
    matched: np.ndarray[Any, Any] = np.clip(
        (style_luma - style_luma.mean()) * spread + luma.mean(), 0.0, 1.0
    )
    return matched


def _with_chroma(luma: np.ndarray[Any, Any], content: Image.Image) -> Image.Image:
    """``luma`` with ``content``'s I and Q (the content resized to it for previews)."""
    height, width = luma.shape
    if content.size != (width, height):
        content = content.resize((width, height), Image.Resampling.BILINEAR)
    yiq = _yiq(content)
    yiq[..., 0] = luma
    return Image.fromarray(_bytes(yiq @ RGB_FROM_YIQ.T))


def _tensor(array: np.ndarray[Any, Any], device: str) -> Any:
    """``H×W×C`` (or ``H×W``) floats → a contiguous ``1×C×H×W`` tensor on ``device``."""
    import torch

    if array.ndim == 2:
        array = array[..., None]
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return tensor.permute(2, 0, 1).unsqueeze(0).contiguous().to(device)


def _array(pixels: Any) -> np.ndarray[Any, Any]:
    """A ``1×C×H×W`` tensor → ``H×W×C`` floats."""
    array: np.ndarray[Any, Any] = pixels.detach()[0].permute(1, 2, 0).float().cpu().numpy()
    return array


def _multiple(side: float) -> int:
    return max(SIDE_MULTIPLE, math.floor(side / SIDE_MULTIPLE) * SIDE_MULTIPLE)
