"""Retexture and Change Background on the worker thread.

Both work on any image (an upload of any size, or a job's image): it is brought to the model's
working size (its area the model's native area, its shape kept, sides on the latent grid),
rendered, and the results are brought back to the image's own size.

- :func:`run_retexture`: the structure map of the source (edges, depth or line art) steers a
  ControlNet (or, without one, the img2img fallback); the prompt decides the look.
- :func:`run_background`: the subject (the user's mask, or the segmenter's) is kept; the rest
  is repainted from the prompt; the subject's pixels are then pasted back from the full-size
  source, so they stay exactly the source's (but for a feathered seam a few pixels wide).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PIL import Image

from engine.controlnets import ControlNetRegistry
from engine.display import display_factor, for_model
from engine.errors import InvalidRequestError
from engine.house_style import DEFAULT_HOUSE_STYLES, HouseStyles
from engine.loras import LoraLibrary
from engine.models import LoadedModel
from engine.operations import render
from engine.plans import Control, seam_px
from engine.request import (
    BackgroundSpec,
    GenerationRequest,
    GenerationResult,
    Progress,
    RetextureSpec,
)

__all__ = ["MIN_SUBJECT_SHARE", "run_background", "run_retexture", "working_size"]

MIN_SUBJECT_SHARE = 0.005
"""A subject smaller than this share of the image is no subject: the user is asked for one."""

PreviewFn = Callable[[list[Image.Image]], Image.Image | None]


def working_size(size: tuple[int, int], model: LoadedModel) -> tuple[int, int]:
    """``size`` scaled to the model's native area (as displayed), its shape kept, each side a
    multiple of the latent grid (16 model pixels)."""
    factor = display_factor(model.native)
    grid = 16 * factor
    side = model.native * factor
    width, height = size
    scale = math.sqrt(side * side / (width * height))
    return (
        max(grid, round(width * scale / grid) * grid),
        max(grid, round(height * scale / grid) * grid),
    )


def _source(request: GenerationRequest) -> Image.Image:
    if request.source is None:
        raise InvalidRequestError(f"{request.operation} needs an image")
    return request.source.convert("RGB")


def run_retexture(
    model: LoadedModel,
    request: GenerationRequest,
    controlnets: ControlNetRegistry,
    depth: Any | None = None,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_preview: PreviewFn | None = None,
    house: HouseStyles = DEFAULT_HOUSE_STYLES,
    loras: LoraLibrary | None = None,
) -> GenerationResult:
    """``Operation.RETEXTURE``: the source's structure, the prompt's look; cells at the
    source's size."""
    from engine.structure.maps import control_image

    spec = request.retexture or RetextureSpec()
    original = _source(request)
    source = original.resize(working_size(original.size, model), Image.Resampling.LANCZOS)
    # The map at the model's scale: what the ControlNet was trained to read.
    structure = control_image(for_model(source, model.native), spec.structure, depth)
    control = Control(
        spec.structure,
        structure,
        controlnets.get(model, spec.structure),
        controlnets.source_for(model, spec.structure),
    )
    result = render(
        model, replace(request, source=source, retexture=spec), cancel=cancel,
        on_progress=on_progress, on_preview=on_preview, house=house, loras=loras,
        control=control,
    )  # fmt: skip
    return _at_size(result, original.size)


def run_background(
    model: LoadedModel,
    request: GenerationRequest,
    segmenter: Any | None = None,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_preview: PreviewFn | None = None,
    house: HouseStyles = DEFAULT_HOUSE_STYLES,
    loras: LoraLibrary | None = None,
) -> GenerationResult:
    """``Operation.BACKGROUND``: everything but the subject repainted; cells at the source's
    size with the subject's pixels the source's own."""
    from engine.structure.segment import paste_subject

    original = _source(request)
    spec = request.background or BackgroundSpec()
    subject = spec.subject
    if subject is not None and subject.size != original.size:
        raise InvalidRequestError(
            f"the mask is {subject.width}×{subject.height} but the image is {original.width}×"
            f"{original.height}: the mask must be the image's size (white = keep)"
        )
    if subject is None:
        if segmenter is None:
            raise InvalidRequestError(
                "no subject finder is configured (MJ_SEGMENTER): give a mask of the subject "
                "(a PNG of the image's size, white = keep)"
            )
        subject = segmenter.subject(original)
    subject = subject.convert("L").resize(original.size, Image.Resampling.NEAREST)
    subject = subject.point(lambda v: 255 if v > 127 else 0)
    share = sum(subject.histogram()[128:]) / (original.width * original.height)
    if share < MIN_SUBJECT_SHARE:
        raise InvalidRequestError(
            "no subject found in the image: give a mask of it (a PNG of the image's size, "
            "white = keep)"
        )
    if share > 1 - MIN_SUBJECT_SHARE:
        raise InvalidRequestError("the subject fills the whole image: there is no background")
    size = working_size(original.size, model)
    working = replace(
        request,
        source=original.resize(size, Image.Resampling.LANCZOS),
        background=BackgroundSpec(subject.resize(size, Image.Resampling.NEAREST)),
    )
    result = render(
        model, working, cancel=cancel, on_progress=on_progress, on_preview=on_preview,
        house=house, loras=loras,
    )  # fmt: skip
    seam = seam_px(original.size)
    images = tuple(
        paste_subject(
            original, image.convert("RGB").resize(original.size, Image.Resampling.LANCZOS),
            subject, seam,
        )
        for image in result.images
    )  # fmt: skip
    details = {**result.parameters.structure, "subject_share": round(share, 4), "seam_px": seam}
    parameters = replace(result.parameters, size=original.size, structure=details)
    return replace(
        result, images=images, width=original.width, height=original.height,
        parameters=parameters,
    )  # fmt: skip


def _at_size(result: GenerationResult, size: tuple[int, int]) -> GenerationResult:
    if result.images and result.images[0].size == size:
        return result
    images = tuple(image.resize(size, Image.Resampling.LANCZOS) for image in result.images)
    parameters = replace(result.parameters, size=size)
    return replace(result, images=images, width=size[0], height=size[1], parameters=parameters)
