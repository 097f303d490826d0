"""Canvases for zoom out, pan and make square, and the masks that blend edits into images."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from engine.errors import InvalidRequestError
from engine.request import OutpaintSpec, PanDirection
from engine.sizes import MAX_ASPECT, SIDE_MULTIPLE, check_aspect

__all__ = [
    "CANVAS_PIXEL_BUDGET",
    "Canvas",
    "can_outpaint",
    "canvas_size",
    "feathered",
    "keep_outside",
    "outpaint_canvas",
]

CANVAS_PIXEL_BUDGET = 2.25
"""A canvas has at most this many times ``native²`` pixels: larger ones (an outpaint of an
upscale, a third pan) are scaled down to it before rendering. A pan of a native square
(1.5×) and a second one (2.25×) stay at full resolution."""
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


def can_outpaint(width: int, height: int, spec: OutpaintSpec) -> bool:
    """Whether ``spec`` can run on an image of this size, on any model (for showing its
    button): see :func:`canvas_size`."""
    try:
        canvas_size(width, height, spec)
    except InvalidRequestError:
        return False
    return True


def canvas_size(width: int, height: int, spec: OutpaintSpec) -> tuple[int, int]:
    """The canvas ``spec`` makes around a ``width``×``height`` image, before scaling to a
    model's pixel budget; raises :class:`InvalidRequestError` when the canvas would be more
    elongated than 1:4/4:1 (a third pan the same way from 16:9) or the zoom is out of range.

    The budget is never a reason to refuse: :func:`outpaint_canvas` scales to it.
    """
    if width < 1 or height < 1:
        raise InvalidRequestError(f"the image is empty ({width}×{height})")
    if spec.pan is not None:
        size = _pan_size(width, height, spec.pan)
    elif spec.make_square:
        side = _round_up(max(width, height))
        size = (side, side)
    else:
        if not 1.0 <= spec.zoom <= 2.0:
            raise InvalidRequestError(f"zoom must be between 1 and 2, not {spec.zoom:g}")
        size = _same_area(width, height, spec.aspect) if spec.aspect else (width, height)
    if max(size) > MAX_ASPECT * min(size):
        raise InvalidRequestError(
            f"the image would be {size[0]}×{size[1]}, more elongated than "
            f"1:{MAX_ASPECT:g}; pan the other way or zoom out first"
        )
    return size


def outpaint_canvas(source: Image.Image, spec: OutpaintSpec, native: int) -> Canvas:
    """Place ``source`` on a larger canvas for ``spec`` and pre-fill the new border.

    * zoom ``z`` (1–2): the canvas keeps the source's pixel count (at ``spec.aspect`` if
      given) and the source shrinks by ``1/z``, centred — or more, to fit a new aspect;
    * pan: the canvas grows by half the side in that direction, the source unscaled;
    * make square: the canvas is a square of the longer side, the source centred.

    A canvas over :data:`CANVAS_PIXEL_BUDGET` ``× native²`` pixels is made from a source
    scaled down (sides in multiples of 16) so that it fits; so any image can be outpainted.
    The border is pre-filled with a blurred mirror of the image, so the sampler starts from
    the picture's own colours rather than flat grey.
    """
    width, height = canvas_size(source.width, source.height, spec)
    budget = CANVAS_PIXEL_BUDGET * native * native
    if width * height > budget:
        factor = math.sqrt(budget / (width * height))
        source = source.resize(
            (_round_down(source.width * factor), _round_down(source.height * factor)),
            Image.Resampling.LANCZOS,
        )
        width, height = canvas_size(source.width, source.height, spec)
    if spec.pan is not None:
        grow_x, grow_y = width - source.width, height - source.height
        left = grow_x if spec.pan is PanDirection.LEFT else 0
        top = grow_y if spec.pan is PanDirection.UP else 0
        scaled = source
    elif spec.make_square:
        scaled = source
        left, top = (width - source.width) // 2, (height - source.height) // 2
    else:
        factor = min(1 / spec.zoom, width / source.width, height / source.height)
        scaled_size = (max(1, round(source.width * factor)), max(1, round(source.height * factor)))
        scaled = source.resize(scaled_size, Image.Resampling.LANCZOS)
        left, top = (width - scaled_size[0]) // 2, (height - scaled_size[1]) // 2
    size = (width, height)
    box = (left, top, left + scaled.width, top + scaled.height)
    image = _prefill(scaled.convert("RGB"), size, box)
    mask = Image.new("L", size, 255)
    seam = max(2, round(max(size) * SEAM_FRACTION))
    # The new content overlaps the original by a seam, so the two can be blended.
    inner_left, inner_right = sorted((box[0] + seam, box[2] - seam))
    inner_top, inner_bottom = sorted((box[1] + seam, box[3] - seam))
    mask.paste(0, (inner_left, inner_top, inner_right, inner_bottom))
    return Canvas(image, mask, box, scaled.convert("RGB"))


def _pan_size(width: int, height: int, pan: PanDirection) -> tuple[int, int]:
    if pan in (PanDirection.LEFT, PanDirection.RIGHT):
        return width + _round_up(width * PAN_GROWTH), height
    return width, height + _round_up(height * PAN_GROWTH)


def _round_up(value: float) -> int:
    return int(math.ceil(value / SIDE_MULTIPLE) * SIDE_MULTIPLE)


def _round_down(value: float) -> int:
    return max(SIDE_MULTIPLE, int(value // SIDE_MULTIPLE) * SIDE_MULTIPLE)


def _same_area(width: int, height: int, aspect: tuple[int, int]) -> tuple[int, int]:
    ratio = check_aspect(aspect)
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
