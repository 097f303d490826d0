"""A request's inputs, checked and prepared for a pipeline: the request's own consistency,
source images in RGB cropped to the latent grid, the doubled image of an upscale (a ``--tile``
one resampled as the torus it is), and the references that count."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engine.errors import InvalidRequestError
from engine.house_style import STYLIZE_MAX
from engine.request import GenerationRequest, Operation, Reference, ReferenceRole

__all__ = ["check_request", "doubled", "effective_references", "fit_to_latents", "rgb"]

WRAP_RESAMPLE_MARGIN = 8  # pixels: wider than LANCZOS's reach (3 source pixels)


def check_request(request: GenerationRequest) -> None:
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
    if not 0 <= request.stylize <= STYLIZE_MAX:
        raise InvalidRequestError(f"stylize must be 0–{STYLIZE_MAX}, not {request.stylize}")
    if not 10 <= request.stop <= 100:
        raise InvalidRequestError(f"stop must be 10–100, not {request.stop}")
    if request.count < 1 or (request.seeds is not None and len(request.seeds) != request.count):
        raise InvalidRequestError("count must be at least 1 and match the seeds given")


def doubled(image: Image.Image, *, wrap: bool) -> Image.Image:
    """``image`` at twice the size; a ``--tile`` image is resampled as the torus it is (its
    edges see the opposite edges, not copies of themselves), so it stays seamless."""
    size = (image.width * 2, image.height * 2)
    if not wrap:
        return image.resize(size, Image.Resampling.LANCZOS)
    margin = WRAP_RESAMPLE_MARGIN
    padded = Image.fromarray(
        np.pad(np.asarray(image), ((margin, margin), (margin, margin), (0, 0)), mode="wrap")
    )
    big = padded.resize((padded.width * 2, padded.height * 2), Image.Resampling.LANCZOS)
    return big.crop((2 * margin, 2 * margin, 2 * margin + size[0], 2 * margin + size[1]))


def rgb(image: Image.Image | None) -> Image.Image:
    assert image is not None  # noqa: S101 - checked in _check
    return image if image.mode == "RGB" else image.convert("RGB")


def fit_to_latents(image: Image.Image, factor: int) -> Image.Image:
    """Sources must have sides divisible by the VAE factor; crop the few extra pixels."""
    width, height = image.width - image.width % factor, image.height - image.height % factor
    if (width, height) == image.size:
        return image
    if width == 0 or height == 0:
        raise InvalidRequestError(f"the image is too small ({image.width}×{image.height})")
    return image.crop((0, 0, width, height))


def effective_references(request: GenerationRequest) -> tuple[Reference, ...]:
    """The references that count: ``--iw 0`` ignores the image prompts and ``--sw 0`` the
    style references (so the result is exactly the one without them)."""
    off = set()
    if request.image_weight <= 0:
        off.add(ReferenceRole.IMAGE)
    if request.style_weight <= 0:
        off.add(ReferenceRole.STYLE)
    return tuple(r for r in request.references if r.role not in off)
