"""Reference edits without MimicBrush weights: the lower-fidelity fallback on the configured
diffusion model (SD 1.x/2.x or SDXL).

The edit is a Vary (Region) of the image with no text, the reference shown to the model two
ways at once: **reference-only attention** (:mod:`engine.mimic.reference_only`: the U-Net's
self-attention also reads the reference's features, which carries its look and textures) and,
where the model has IP-Adapters configured, the **IP-Adapter Plus** embedding of the reference
(the character slot at full weight: its content and identity). **Keep shape** has no depth
model here: the region is repainted from the image instead of from noise (the subtle region
strength), so its shapes stay.

Any image size works: the image is scaled to the model's pixel budget for the render and the
result scaled back; every pixel outside the region is the image's own, exactly.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from PIL import Image

from engine.canvas import keep_outside
from engine.display import display_factor
from engine.mimic.reference_only import reference_only
from engine.models import LoadedModel
from engine.operations import SEAM_RADIUS_FRACTION, render
from engine.request import (
    EffectiveParameters,
    GenerationRequest,
    GenerationResult,
    Operation,
    Progress,
    Reference,
    ReferenceRole,
    Strength,
)

__all__ = ["FALLBACK", "run_fallback", "working_size"]

FALLBACK = "fallback"
"""How the effective parameters name this mode."""
CHARACTER_WEIGHT = 100
"""``--cw 100``: the IP-Adapter Plus slot at its full scale (0.7)."""


def working_size(size: tuple[int, int], model: LoadedModel) -> tuple[int, int]:
    """``size`` scaled to the model's pixel budget (its native square, as displayed), sides a
    multiple of the latent grid, the aspect ratio kept."""
    factor = display_factor(model.native)
    side = model.native * factor
    multiple = model.vae_scale_factor * 8 * factor
    scale = side / math.sqrt(size[0] * size[1])
    width, height = (max(multiple, round(s * scale / multiple) * multiple) for s in size)
    return width, height


def run_fallback(
    model: LoadedModel,
    request: GenerationRequest,
    binary: Image.Image,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    show_reference: bool = True,
) -> tuple[GenerationResult, int]:
    """Render a checked ``Operation.MIMIC`` request (``binary``: its region) on ``model``;
    also returns how many reference passes ran. ``show_reference`` off keeps both of the
    reference's paths shut (measurements: what the reference changes)."""
    started = time.perf_counter()
    assert request.source is not None  # noqa: S101 - checked by check_mimic_request
    assert request.mimic is not None  # noqa: S101
    spec = request.mimic
    source = request.source.convert("RGB")
    size = working_size(source.size, model)
    references: tuple[Reference, ...] = ()
    if show_reference and model.adapter_source is not None:
        references = (Reference(ReferenceRole.CHARACTER, spec.reference.convert("RGB")),)
    region = GenerationRequest(
        operation=Operation.REGION,
        count=request.count,
        seed=request.seed,
        seeds=request.seeds,
        source=source.resize(size, Image.Resampling.LANCZOS),
        mask=binary.resize(size, Image.Resampling.NEAREST),
        strength=Strength.SUBTLE if spec.keep_shape else Strength.STRONG,
        steps=request.steps,
        references=references,
        character_weight=CHARACTER_WEIGHT,
        version=request.version,
    )
    with reference_only(model.inpaint(), spec.reference) as shown:
        shown.enabled = show_reference
        result = render(model, region, cancel=cancel, on_progress=on_progress)
    radius = max(2.0, max(source.size) * SEAM_RADIUS_FRACTION)
    images = tuple(
        keep_outside(source, image.resize(source.size, Image.Resampling.LANCZOS), binary, radius)
        for image in result.images
    )
    used = result.parameters
    parameters = EffectiveParameters.without_diffusion_prompt(
        Operation.MIMIC,
        steps=used.steps,
        size=source.size,
        sampler=used.sampler,
        guidance_scale=used.guidance_scale,
        references={
            "images": 1,
            "keep_shape": spec.keep_shape,
            "model": f"{FALLBACK} on {model.source}",
            "ip_adapter": bool(references),
        },
    )
    done = replace(
        result,
        images=images,
        width=source.width,
        height=source.height,
        seconds=time.perf_counter() - started,
        parameters=replace(
            parameters, strength=used.strength, steps_scheduled=used.steps_scheduled
        ),
    )
    return done, shown.writes
