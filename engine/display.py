"""Display size: small models' images are enlarged by a whole factor so a grid cell is at least
``DISPLAY_SIDE`` pixels, and images coming back (Vary, Region, Upscale, Zoom/Pan sources) are
reduced by the same factor before the model sees them.

The resampling is nearest-neighbour by a whole factor (each model pixel becomes a k×k block):
it invents nothing, and reducing with a box filter gives back the model's pixels exactly, so
an edit of a displayed image keeps every untouched pixel exact. Models at 256 px or more
(every real checkpoint) have factor 1: their images pass through unchanged.
"""

from __future__ import annotations

import math

from PIL import Image

from engine.errors import InvalidRequestError

__all__ = ["DISPLAY_SIDE", "display_factor", "for_display", "for_model"]

DISPLAY_SIDE = 256


def display_factor(native: int) -> int:
    """How many times a model of ``native`` px images is enlarged for display (at least 1)."""
    if native < 1:
        raise ValueError(f"native size must be positive, got {native}")
    return max(1, math.ceil(DISPLAY_SIDE / native))


def for_display(image: Image.Image, native: int) -> Image.Image:
    """``image`` (as the model made it) enlarged for display."""
    factor = display_factor(native)
    if factor == 1:
        return image
    size = (image.width * factor, image.height * factor)
    return image.resize(size, Image.Resampling.NEAREST)


def for_model(image: Image.Image, native: int) -> Image.Image:
    """A displayed image reduced back to the model's scale (the inverse of
    :func:`for_display` on its output). Sides that are not a multiple of the factor (an
    uploaded or cropped image) are cropped to one first."""
    factor = display_factor(native)
    if factor == 1:
        return image
    width, height = image.width // factor, image.height // factor
    if width == 0 or height == 0:
        raise InvalidRequestError(
            f"the image is too small ({image.width}×{image.height}) for a model shown "
            f"{factor}× enlarged"
        )
    cropped = image.crop((0, 0, width * factor, height * factor))
    return cropped.resize((width, height), Image.Resampling.BOX)
