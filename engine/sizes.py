"""Image sizes: an aspect ratio at a model's native resolution, in multiples of 64."""

from __future__ import annotations

import math

from engine.errors import InvalidRequestError

__all__ = ["MAX_ASPECT", "SIDE_MULTIPLE", "size_for_aspect"]

SIDE_MULTIPLE = 64
MAX_ASPECT = 4.0
"""The longer side may be at most this many times the shorter (1:4 to 4:1)."""


def size_for_aspect(aspect: tuple[int, int], native: int) -> tuple[int, int]:
    """``(width, height)`` with about ``native²`` pixels and the ratio ``aspect``.

    Each side is ``native·√r`` (width) or ``native/√r`` (height) rounded to the nearest multiple
    of 64, so at native 1024: 1:1 → 1024×1024, 16:9 → 1344×768, 3:2 → 1280×832, 2:3 →
    832×1280; at native 512: 16:9 → 704×384.
    """
    width_ratio, height_ratio = aspect
    if width_ratio <= 0 or height_ratio <= 0:
        raise InvalidRequestError(f"aspect ratio {width_ratio}:{height_ratio} must be positive")
    ratio = width_ratio / height_ratio
    if not 1 / MAX_ASPECT <= ratio <= MAX_ASPECT:
        raise InvalidRequestError(
            f"aspect ratio {width_ratio}:{height_ratio} is too extreme; "
            f"use one between 1:{MAX_ASPECT:g} and {MAX_ASPECT:g}:1"
        )
    root = math.sqrt(ratio)
    return _round_side(native * root), _round_side(native / root)


def _round_side(value: float) -> int:
    return max(SIDE_MULTIPLE, round(value / SIDE_MULTIPLE) * SIDE_MULTIPLE)
