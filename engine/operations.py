"""Rendering a :class:`GenerationRequest` with a loaded model (on the worker thread).

:func:`render` reads as the numbered steps of a diffusers ``__call__``: check the request,
prepare seeds and conditioning, choose the pipeline and its inputs for the operation, run it
with the step hooks (and circular padding for ``--tile``), then finish the images.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image

from engine.canvas import Canvas, feathered, keep_outside, outpaint_canvas
from engine.conditioning import ChaosNoise, encode, guidance_for_stylize, weird_part
from engine.display import for_display, for_model
from engine.errors import GPUOutOfMemoryError, InvalidRequestError
from engine.models import Architecture, LoadedModel
from engine.request import (
    GenerationRequest,
    GenerationResult,
    Operation,
    Progress,
    Reference,
    ReferenceRole,
    Strength,
)
from engine.sampling import StepHooks, capture_x0, circular_padding
from engine.sizes import size_for_aspect

__all__ = [
    "REGION_STRENGTH",
    "UPSCALE_STRENGTH",
    "VARIATION_STRENGTH",
    "effective_references",
    "render",
    "steps_for",
]

VARIATION_STRENGTH = {Strength.SUBTLE: 0.4, Strength.STRONG: 0.75}
UPSCALE_STRENGTH = {Strength.SUBTLE: 0.25, Strength.STRONG: 0.45}
REGION_STRENGTH = 0.95
OUTPAINT_STRENGTH = 0.98
SEAM_RADIUS_FRACTION = 1 / 96

PreviewFn = Callable[[list[Image.Image]], Image.Image | None]


@dataclass(frozen=True, slots=True)
class _Plan:
    """The pipeline to call and its operation-specific arguments."""

    pipe: Any
    kwargs: dict[str, Any]
    size: tuple[int, int]
    strength: float | None = None
    canvas: Canvas | None = None
    vae_tiling: bool = False


def steps_for(model: LoadedModel, request: GenerationRequest) -> int:
    """Steps of the full schedule: the model's (or the request's) scaled by ``--quality``."""
    base = request.steps if request.steps is not None else model.base_steps
    return max(1, round(base * request.quality))


def render(
    model: LoadedModel,
    request: GenerationRequest,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_preview: PreviewFn | None = None,
) -> GenerationResult:
    """Render ``request``; raises :class:`~engine.errors.EngineError` subclasses."""
    import torch

    started = time.perf_counter()
    # 1. Check inputs; references whose weight switches them off are dropped.
    _check(request)
    request = replace(request, references=effective_references(request))
    # 2. Seeds, steps, guidance, text conditioning.
    seeds = request.resolved_seeds()
    count = len(seeds)
    steps = steps_for(model, request)
    guidance = guidance_for_stylize(request.stylize)
    parts = list(request.prompt)
    weird = weird_part(request.weird)
    if weird is not None:
        parts.append(weird)
    negative = ", ".join(request.negative)
    # 3. The pipeline for the operation, and its image inputs.
    plan = _plan(model, request, count)
    sdxl = model.architecture is Architecture.SDXL
    conditioning = encode(plan.pipe, parts, negative, count, sdxl)
    chaos = None
    if request.chaos > 0 and request.operation is Operation.IMAGINE:
        names = ["prompt_embeds", "pooled_prompt_embeds"] if sdxl else ["prompt_embeds"]
        chaos = ChaosNoise.create(request.chaos, seeds, [conditioning[n] for n in names])
        for name, noisy in zip(names, chaos.apply(1.0), strict=True):
            conditioning[name] = noisy
    hooks = StepHooks(
        model.architecture.value, request.stop, cancel, on_progress, on_preview, chaos
    )
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    adapters = model.references() if request.references else None
    # 4. Denoise (and decode) with the hooks; --tile pads every convolution circularly;
    # reference images are in the UNet only for this call.
    if plan.vae_tiling:
        plan.pipe.vae.enable_tiling()
    try:
        with (
            capture_x0(plan.pipe.scheduler) as x0,
            circular_padding(plan.pipe.unet, plan.pipe.vae, enabled=request.tile),
            adapters.active() if adapters is not None else contextlib.nullcontext(),
        ):
            hooks.x0 = x0
            images_in = {} if adapters is None else adapters.prepare(plan.pipe, request, count)
            output = plan.pipe(
                **conditioning,
                **plan.kwargs,
                **images_in,
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=generators,
                output_type="pil",
                callback_on_step_end=hooks,
                callback_on_step_end_tensor_inputs=hooks.tensor_inputs,
            )
    except torch.cuda.OutOfMemoryError as error:
        _free_memory()
        raise GPUOutOfMemoryError(
            "the GPU ran out of memory for this job; try a smaller size or fewer references"
        ) from error
    finally:
        plan.pipe._interrupt = False
        if plan.vae_tiling:
            plan.pipe.vae.disable_tiling()
    # 5. Finish: blend edits into their source, enlarge small models' images for display
    # (engine.display), report 100%.
    images = [for_display(_finish(request, plan, image), model.native) for image in output.images]
    if on_progress is not None:
        on_progress(Progress(hooks.steps_run, hooks.steps_run))
    width, height = images[0].size
    parameters = {
        "operation": str(request.operation),
        "steps": steps,
        "guidance_scale": guidance,
        "strength": plan.strength,
        "sampler": type(plan.pipe.scheduler).__name__,
        "negative_prompt": negative,
        "prompt": [[p.text, p.weight] for p in parts],
        "chaos": request.chaos,
        "stop": request.stop,
        "tile": request.tile,
        "quality": request.quality,
        "size": [width, height],
        "references": _describe_references(request),
    }
    return GenerationResult(
        tuple(images),
        seeds,
        width,
        height,
        hooks.steps_run,
        model.source,
        time.perf_counter() - started,
        parameters,
    )


def effective_references(request: GenerationRequest) -> tuple[Reference, ...]:
    """The references that count: ``--iw 0`` ignores the image prompts and ``--sw 0`` the
    style references (so the result is exactly the one without them)."""
    off = set()
    if request.image_weight <= 0:
        off.add(ReferenceRole.IMAGE)
    if request.style_weight <= 0:
        off.add(ReferenceRole.STYLE)
    return tuple(r for r in request.references if r.role not in off)


def _describe_references(request: GenerationRequest) -> dict[str, object]:
    roles = [r.role for r in request.references]
    if not roles:
        return {}
    return {
        "images": roles.count(ReferenceRole.IMAGE),
        "styles": roles.count(ReferenceRole.STYLE),
        "characters": roles.count(ReferenceRole.CHARACTER),
        "iw": request.image_weight,
        "sw": request.style_weight,
        "cw": request.character_weight,
    }


def _check(request: GenerationRequest) -> None:
    needs_source = request.operation is not Operation.IMAGINE
    if needs_source and request.source is None:
        raise InvalidRequestError(f"{request.operation} needs a source image")
    if request.operation is Operation.REGION and request.mask is None:
        raise InvalidRequestError("a region edit needs a mask")
    if request.operation is Operation.OUTPAINT and request.outpaint is None:
        raise InvalidRequestError("an outpaint needs a zoom, pan or make-square")
    if (
        request.mask is not None
        and request.source is not None
        and request.mask.size != request.source.size
    ):
        raise InvalidRequestError(
            f"the mask is {request.mask.width}×{request.mask.height} but the image is "
            f"{request.source.width}×{request.source.height}"
        )
    if not 10 <= request.stop <= 100:
        raise InvalidRequestError(f"stop must be 10–100, not {request.stop}")
    if request.count < 1 or (request.seeds is not None and len(request.seeds) != request.count):
        raise InvalidRequestError("count must be at least 1 and match the seeds given")


def _plan(model: LoadedModel, request: GenerationRequest, count: int) -> _Plan:
    operation = request.operation
    if operation is Operation.IMAGINE:
        width, height = size_for_aspect(request.aspect, model.native)
        return _Plan(model.text2img, {"width": width, "height": height}, (width, height))
    source = _fit_to_latents(for_model(_rgb(request.source), model.native), model.vae_scale_factor)
    if operation is Operation.VARIATION:
        strength = VARIATION_STRENGTH[request.strength]
        return _Plan(
            model.img2img(),
            {"image": [source] * count, "strength": strength},
            source.size,
            strength,
        )
    if operation is Operation.UPSCALE:
        doubled = source.resize((source.width * 2, source.height * 2), Image.Resampling.LANCZOS)
        strength = UPSCALE_STRENGTH[request.strength]
        # Tiled VAE: encoding and decoding 2048² in one piece needs too much memory.
        return _Plan(
            model.img2img(),
            {"image": [doubled] * count, "strength": strength},
            doubled.size,
            strength,
            vae_tiling=True,
        )
    if operation is Operation.REGION:
        assert request.mask is not None  # noqa: S101 - checked in _check
        mask = request.mask.convert("L").resize(source.size, Image.Resampling.NEAREST)
        return _Plan(
            model.inpaint(),
            {
                "image": [source] * count,
                "mask_image": [mask] * count,
                "strength": REGION_STRENGTH,
                "width": source.width,
                "height": source.height,
            },
            source.size,
            REGION_STRENGTH,
        )
    assert request.outpaint is not None  # noqa: S101 - checked in _check
    canvas = outpaint_canvas(source, request.outpaint, model.native)
    return _Plan(
        model.inpaint(),
        {
            "image": [canvas.image] * count,
            "mask_image": [canvas.mask] * count,
            "strength": OUTPAINT_STRENGTH,
            "width": canvas.image.width,
            "height": canvas.image.height,
        },
        canvas.image.size,
        OUTPAINT_STRENGTH,
        canvas=canvas,
    )


def _finish(request: GenerationRequest, plan: _Plan, image: Image.Image) -> Image.Image:
    radius = max(2.0, max(plan.size) * SEAM_RADIUS_FRACTION)
    if request.operation is Operation.REGION:
        source = plan.kwargs["image"][0]
        return keep_outside(source, image, plan.kwargs["mask_image"][0], radius)
    if request.operation is Operation.OUTPAINT:
        canvas = plan.canvas
        assert canvas is not None  # noqa: S101 - outpaint plans carry their canvas
        keep = Image.new("L", canvas.image.size, 0)
        keep.paste(255, canvas.box)
        return Image.composite(canvas.image, image.convert("RGB"), feathered(keep, radius))
    return image


def _rgb(image: Image.Image | None) -> Image.Image:
    assert image is not None  # noqa: S101 - checked in _check
    return image if image.mode == "RGB" else image.convert("RGB")


def _fit_to_latents(image: Image.Image, factor: int) -> Image.Image:
    """Sources must have sides divisible by the VAE factor; crop the few extra pixels."""
    width, height = image.width - image.width % factor, image.height - image.height % factor
    if (width, height) == image.size:
        return image
    if width == 0 or height == 0:
        raise InvalidRequestError(f"the image is too small ({image.width}×{image.height})")
    return image.crop((0, 0, width, height))


def _free_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
