"""Canvases for zoom out, pan and make square, and the masks that blend edits into images."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from engine.errors import InvalidRequestError
from engine.request import OutpaintSpec, PanDirection
from engine.sizes import SIDE_MULTIPLE

__all__ = ["MAX_CANVAS_SCALE", "Canvas", "feathered", "keep_outside", "outpaint_canvas"]

MAX_CANVAS_SCALE = 2.5
"""A canvas side may be at most this many times the model's native side."""
PAN_GROWTH = 0.5
SEAM_FRACTION = 1 / 64


@dataclass(frozen=True, slots=True)
class Canvas:
    """An enlarged image to inpaint: ``mask`` is white where new content goes; the original
    (scaled) sits at ``box`` (left, top, right, bottom)."""

    image: Image.Image
    mask: Image.Image
    box: tuple[int, int, int, int]
    original: Image.Image


def outpaint_canvas(source: Image.Image, spec: OutpaintSpec, native: int) -> Canvas:
    """Place ``source`` on a larger canvas for ``spec`` and pre-fill the new border.

    * zoom ``z`` (1–2): the canvas keeps the source's pixel count (at ``spec.aspect`` if
      given) and the source shrinks by ``1/z``, centred — or more, to fit a new aspect;
    * pan: the canvas grows by half the side in that direction, the source unscaled;
    * make square: the canvas is a square of the longer side, the source centred.

    The border is pre-filled with a blurred mirror of the image, so the sampler starts from
    the picture's own colours rather than flat grey.
    """
    width, height = source.size
    if spec.pan is not None:
        grow_x = (
            _round_up(width * PAN_GROWTH)
            if spec.pan in (PanDirection.LEFT, PanDirection.RIGHT)
            else 0
        )
        grow_y = _round_up(height * PAN_GROWTH) if not grow_x else 0
        size = (width + grow_x, height + grow_y)
        left = grow_x if spec.pan is PanDirection.LEFT else 0
        top = grow_y if spec.pan is PanDirection.UP else 0
        scaled = source
    elif spec.make_square:
        side = _round_up(max(width, height))
        size = (side, side)
        scaled = source
        left, top = (side - width) // 2, (side - height) // 2
    else:
        if not 1.0 <= spec.zoom <= 2.0:
            raise InvalidRequestError(f"zoom must be between 1 and 2, not {spec.zoom:g}")
        size = _same_area(width, height, spec.aspect) if spec.aspect else (width, height)
        factor = min(1 / spec.zoom, size[0] / width, size[1] / height)
        scaled_size = (max(1, round(width * factor)), max(1, round(height * factor)))
        scaled = source.resize(scaled_size, Image.Resampling.LANCZOS)
        left, top = (size[0] - scaled_size[0]) // 2, (size[1] - scaled_size[1]) // 2
    limit = MAX_CANVAS_SCALE * native
    if max(size) > limit:
        raise InvalidRequestError(
            f"the image would be {size[0]}×{size[1]}, larger than this model's limit of "
            f"{limit:.0f} px a side; upscale less or pan from a smaller image"
        )
    box = (left, top, left + scaled.width, top + scaled.height)
    image = _prefill(scaled.convert("RGB"), size, box)
    mask = Image.new("L", size, 255)
    seam = max(2, round(max(size) * SEAM_FRACTION))
    # The new content overlaps the original by a seam, so the two can be blended.
    inner_left, inner_right = sorted((box[0] + seam, box[2] - seam))
    inner_top, inner_bottom = sorted((box[1] + seam, box[3] - seam))
    mask.paste(0, (inner_left, inner_top, inner_right, inner_bottom))
    return Canvas(image, mask, box, scaled.convert("RGB"))


def _round_up(value: float) -> int:
    return int(math.ceil(value / SIDE_MULTIPLE) * SIDE_MULTIPLE)


def _same_area(width: int, height: int, aspect: tuple[int, int]) -> tuple[int, int]:
    ratio = aspect[0] / aspect[1]
    area = width * height
    new_width = round(math.sqrt(area * ratio) / SIDE_MULTIPLE) * SIDE_MULTIPLE
    new_height = round(math.sqrt(area / ratio) / SIDE_MULTIPLE) * SIDE_MULTIPLE
    return max(SIDE_MULTIPLE, new_width), max(SIDE_MULTIPLE, new_height)


def _prefill(
    original: Image.Image, size: tuple[int, int], box: tuple[int, int, int, int]
) -> Image.Image:
    pixels = np.asarray(original)
    pad = ((box[1], size[1] - box[3]), (box[0], size[0] - box[2]), (0, 0))
    mirrored = Image.fromarray(np.pad(pixels, pad, mode="symmetric"))
    blurred = mirrored.filter(ImageFilter.GaussianBlur(radius=max(size) / 24))
    blurred.paste(original, box[:2])
    return blurred


def feathered(mask: Image.Image, radius: float) -> Image.Image:
    """``mask`` with a soft inner edge: 0 stays exactly 0, 255 fades in over ``radius``."""
    blurred = mask.filter(ImageFilter.GaussianBlur(radius=radius))
    return ImageChops.darker(mask, blurred)


def keep_outside(
    source: Image.Image, generated: Image.Image, mask: Image.Image, radius: float
) -> Image.Image:
    """``generated`` inside ``mask`` (white), ``source`` exactly outside, soft seam inside."""
    alpha = feathered(mask.convert("L"), radius)
    return Image.composite(generated.convert("RGB"), source.convert("RGB"), alpha)
