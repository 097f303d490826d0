"""The pipeline of each operation and its inputs (:func:`plan_for`), and how an edit's result
is blended back into its source (:func:`finish`) — the middle and last steps of
:func:`engine.operations.render`.

Retexture keeps the source's structure through a ControlNet whose scale and span grow with
``strength`` (:func:`control_settings`); without a ControlNet it falls back to img2img from
an edge-preserving start (:func:`structure_start`). Change Background inpaints everything but
the subject (the mask shrunk by the seam); ``engine.structure.operation`` pastes the subject
back from the full-size image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFilter, ImageOps

from engine.canvas import Canvas, feathered, keep_outside, outpaint_canvas
from engine.display import for_model
from engine.inputs import doubled, fit_to_latents, rgb
from engine.models import LoadedModel
from engine.request import GenerationRequest, Operation, Strength, StructureKind
from engine.sizes import SIDE_MULTIPLE, size_for_aspect, tile_multiple
from engine.speed import needs_vae_tiling

__all__ = [
    "BACKGROUND_STRENGTH",
    "KEEP_SHAPE_STRENGTH",
    "OUTPAINT_STRENGTH",
    "REGION_STRENGTH",
    "SEAM_RADIUS_FRACTION",
    "UPSCALE_STRENGTH",
    "VARIATION_STRENGTH",
    "Control",
    "Plan",
    "control_settings",
    "fallback_strength",
    "finish",
    "plan_for",
    "seam_px",
    "side_multiple",
    "structure_start",
]

VARIATION_STRENGTH = {Strength.SUBTLE: 0.4, Strength.STRONG: 0.75}
UPSCALE_STRENGTH = {Strength.SUBTLE: 0.25, Strength.STRONG: 0.45}
REGION_STRENGTH = 0.95
KEEP_SHAPE_STRENGTH = 0.6
"""A region edit with the subtle strength repaints from the image, not from noise: its shapes
stay (the reference-edit fallback's Keep shape)."""
OUTPAINT_STRENGTH = 0.98
BACKGROUND_STRENGTH = 1.0
"""The background is repainted from noise: nothing of the old one shows through."""
SEAM_RADIUS_FRACTION = 1 / 96
BACKGROUND_SEAM_FRACTION = 1 / 128
"""Change Background's seam: the subject's outline is feathered over this share of the side."""


@dataclass(frozen=True, slots=True, eq=False)
class Control:
    """Retexture's structure: the map of the source (``image``) and the ControlNet that
    follows it (``None``: the img2img fallback)."""

    structure: StructureKind
    image: Image.Image
    net: Any | None = None
    source: str | None = None
    """Where the ControlNet came from (for the effective parameters)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """The pipeline to call and its operation-specific arguments."""

    pipe: Any
    kwargs: dict[str, Any]
    size: tuple[int, int]
    strength: float | None = None
    canvas: Canvas | None = None
    vae_tiling: bool = False
    details: dict[str, Any] | None = None
    """What the effective parameters record of a retexture or background."""


def side_multiple(model: LoadedModel, *, tile: bool) -> int:
    """What image sides are multiples of: 16, or what ``--tile`` needs on this UNet."""
    if not tile:
        return SIDE_MULTIPLE
    downsamplers = len(model.text2img.unet.config.block_out_channels) - 1
    return tile_multiple(model.vae_scale_factor, downsamplers)


def control_settings(strength: int) -> tuple[float, float]:
    """Retexture's ``strength`` 0–100 → (ControlNet conditioning scale, the share of the
    steps it guides from the start): 0 → 0.35 over the first 45 %, 100 → 1.2 over all."""
    share = min(100, max(0, strength)) / 100
    return round(0.35 + 0.85 * share, 4), round(0.45 + 0.55 * share, 4)


def fallback_strength(strength: int) -> float:
    """The img2img strength of Retexture without a ControlNet: 0 → 0.92 (loose), 100 → 0.45."""
    return round(0.92 - 0.47 * min(100, max(0, strength)) / 100, 4)


def structure_start(source: Image.Image, lines: Image.Image) -> Image.Image:
    """The fallback's starting image: the source's colours smoothed away (a median filter
    keeps edges), its structure lines drawn dark on top — img2img then keeps the lines and
    the layout while the prompt decides the look."""
    side = max(3, (min(source.size) // 48) | 1)
    smooth = source.convert("RGB").filter(ImageFilter.MedianFilter(side))
    mask = lines.convert("L").point(lambda v: 255 if v > 127 else 0)
    dark = ImageOps.autocontrast(smooth.convert("L")).point(lambda v: v // 5).convert("RGB")
    return Image.composite(dark, smooth, mask)


def seam_px(size: tuple[int, int]) -> int:
    return max(2, math.ceil(max(size) * BACKGROUND_SEAM_FRACTION))


def plan_for(
    model: LoadedModel, request: GenerationRequest, count: int, control: Control | None = None
) -> Plan:
    """The pipeline and its image inputs for ``request``'s operation."""
    operation = request.operation
    if operation is Operation.IMAGINE:
        width, height = size_for_aspect(
            request.aspect, model.native, side_multiple(model, tile=request.tile)
        )
        return Plan(model.text2img, {"width": width, "height": height}, (width, height))
    source = fit_to_latents(for_model(rgb(request.source), model.native), model.vae_scale_factor)
    if operation is Operation.RETEXTURE:
        return _retexture(model, request, source, count, control)
    if operation is Operation.BACKGROUND:
        return _background(model, request, source, count)
    if operation is Operation.VARIATION:
        strength = VARIATION_STRENGTH[request.strength]
        return Plan(
            model.img2img(),
            {"image": [source] * count, "strength": strength},
            source.size,
            strength,
        )
    if operation is Operation.UPSCALE:
        big = doubled(source, wrap=request.tile)
        strength = UPSCALE_STRENGTH[request.strength]
        # Tiled VAE: encoding and decoding 2048² in one piece needs too much memory.
        return Plan(
            model.img2img(),
            {"image": [big] * count, "strength": strength},
            big.size,
            strength,
            vae_tiling=needs_vae_tiling(
                big.size, count, native=model.native, device=str(model.device), dtype=model.dtype
            ),
        )
    if operation is Operation.REGION:
        assert request.mask is not None  # noqa: S101 - checked in check_request
        mask = request.mask.convert("L").resize(source.size, Image.Resampling.NEAREST)
        region = KEEP_SHAPE_STRENGTH if request.strength is Strength.SUBTLE else REGION_STRENGTH
        return Plan(
            model.inpaint(),
            {
                "image": [source] * count,
                "mask_image": [mask] * count,
                "strength": region,
                "width": source.width,
                "height": source.height,
            },
            source.size,
            region,
        )
    assert request.outpaint is not None  # noqa: S101 - checked in check_request
    canvas = outpaint_canvas(source, request.outpaint, model.native)
    return Plan(
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


def finish(request: GenerationRequest, plan: Plan, image: Image.Image) -> Image.Image:
    """An edit blended into its source: only the asked-for pixels change."""
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


def _retexture(
    model: LoadedModel,
    request: GenerationRequest,
    source: Image.Image,
    count: int,
    control: Control | None,
) -> Plan:
    spec = request.retexture
    if spec is None or control is None:
        raise ValueError("a retexture plan needs its spec and its control image")
    structure = control.image.convert("RGB").resize(source.size, Image.Resampling.BILINEAR)
    details: dict[str, Any] = {"structure": str(spec.structure), "strength": spec.strength}
    if control.net is None:  # no ControlNet: img2img from the edge-preserving start
        strength = fallback_strength(spec.strength)
        details.update(controlnet=None, fallback="img2img from an edge-preserving start")
        start = structure_start(source, structure)
        return Plan(
            model.img2img(),
            {"image": [start] * count, "strength": strength},
            source.size,
            strength,
            details=details,
        )
    scale, end = control_settings(spec.strength)
    details.update(controlnet=control.source, scale=scale, guidance_end=end)
    kwargs = {
        "image": [structure] * count,
        "controlnet_conditioning_scale": scale,
        "control_guidance_start": 0.0,
        "control_guidance_end": end,
        "width": source.width,
        "height": source.height,
    }
    return Plan(model.controlnet(control.net), kwargs, source.size, details=details)


def _background(
    model: LoadedModel, request: GenerationRequest, source: Image.Image, count: int
) -> Plan:
    spec = request.background
    if spec is None or spec.subject is None:
        raise ValueError("a background plan needs the subject's mask")
    subject = spec.subject.convert("L").resize(source.size, Image.Resampling.NEAREST)
    subject = subject.point(lambda v: 255 if v > 127 else 0)
    seam = seam_px(source.size)
    # Repaint everything but the subject, and a seam's width into it (pasted over after).
    grow = ImageFilter.MinFilter(2 * seam + 1)
    repaint = ImageOps.invert(subject.filter(grow))
    details = {"seam_px": seam}  # the operation adds the subject's share, at full size
    kwargs = {
        "image": [source] * count,
        "mask_image": [repaint] * count,
        "strength": BACKGROUND_STRENGTH,
        "width": source.width,
        "height": source.height,
    }
    # The subject is pasted back by the operation, from the full-size image.
    return Plan(model.inpaint(), kwargs, source.size, BACKGROUND_STRENGTH, details=details)
