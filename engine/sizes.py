"""Image sizes: an aspect ratio at a model's native resolution, in multiples of 16 (or coarser
multiples where ``--tile`` needs them)."""

from __future__ import annotations

import math

from engine.errors import InvalidRequestError

__all__ = [
    "MAX_ASPECT",
    "PIXEL_TOLERANCE",
    "RATIO_SLACK",
    "SIDE_MULTIPLE",
    "check_aspect",
    "size_for_aspect",
    "tile_multiple",
]

SIDE_MULTIPLE = 16
"""Sides are multiples of this: diffusers needs the VAE factor (8); 16 keeps latents even,
and the UNet forwards odd sizes further down (it passes ``upsample_size`` itself)."""
MAX_ASPECT = 4.0
"""The longer side may be at most this many times the shorter (1:4 to 4:1); the parser
refuses the same ratios at submission."""
PIXEL_TOLERANCE = 0.10
"""A size's pixel count stays within ±10% of ``native²``."""
RATIO_SLACK = 0.01
"""Sizes whose ratio error is at most 1% (or the best achievable, if larger) are equally
good; among them the pixel count closest to ``native²`` wins."""


def check_aspect(aspect: tuple[int, int]) -> float:
    """The ratio ``width/height``; raises :class:`InvalidRequestError` outside 1:4 to 4:1."""
    width_ratio, height_ratio = aspect
    if width_ratio <= 0 or height_ratio <= 0:
        raise InvalidRequestError(f"aspect ratio {width_ratio}:{height_ratio} must be positive")
    ratio = width_ratio / height_ratio
    if not 1 / MAX_ASPECT <= ratio <= MAX_ASPECT:
        raise InvalidRequestError(
            f"aspect ratio {width_ratio}:{height_ratio} is too extreme; "
            f"use one between 1:{MAX_ASPECT:g} and {MAX_ASPECT:g}:1"
        )
    return ratio


def size_for_aspect(
    aspect: tuple[int, int], native: int, multiple: int = SIDE_MULTIPLE
) -> tuple[int, int]:
    """``(width, height)``: multiples of ``multiple`` with about ``native²`` pixels and a ratio
    as close to ``aspect`` as those allow.

    Every pair of multiples whose pixel count is within :data:`PIXEL_TOLERANCE` of ``native²``
    is a candidate; those within :data:`RATIO_SLACK` of the ratio (or within the best error
    any candidate reaches, if that is larger) qualify, and the one nearest ``native²`` pixels
    wins. At native 1024: 1:1 → 1024×1024, 16:9 → 1360×768, 3:2 → 1248×832; the ratio error
    is at most 1.0% at native 1024, 1.4% at 512 and 3.1% at 256 for every ratio from 1:4 to
    4:1 (``bench/fidelity.py`` prints the table).
    """
    ratio = check_aspect(aspect)
    tolerance = PIXEL_TOLERANCE
    while True:
        candidates = _candidates(ratio, native, multiple, tolerance)
        if candidates:
            break
        tolerance *= 2  # only coarse multiples (--tile) at tiny natives get here
    best_error = min(error for error, _, _, _ in candidates)
    allowed = max(best_error, RATIO_SLACK)
    qualified = [c for c in candidates if c[0] <= allowed]
    _, _, width, height = min(qualified, key=lambda c: (c[1], c[0]))
    return width, height


def _candidates(
    ratio: float, native: int, multiple: int, tolerance: float
) -> list[tuple[float, float, int, int]]:
    """``(ratio error, pixel error, width, height)`` for every height in the pixel window and
    the two widths around ``height·ratio``."""
    area = native * native
    low = max(1, math.floor(math.sqrt(area * (1 - tolerance) / ratio) / multiple))
    high = math.ceil(math.sqrt(area * (1 + tolerance) / ratio) / multiple)
    out = []
    for height in range(low * multiple, (high + 1) * multiple, multiple):
        for width in {
            max(multiple, math.floor(height * ratio / multiple) * multiple),
            math.ceil(height * ratio / multiple) * multiple,
        }:
            pixel_error = abs(width * height / area - 1)
            if pixel_error <= tolerance:
                out.append((abs(width / height - ratio) / ratio, pixel_error, width, height))
    return out


def tile_multiple(vae_scale_factor: int, downsamplers: int) -> int:
    """The side multiple a seamless ``--tile`` image needs: every UNet downsampling must halve
    the latent exactly, or the wrapped edges no longer line up (64 on SD 1.5, 32 on SDXL)."""
    return max(SIDE_MULTIPLE, vae_scale_factor * (1 << downsamplers))
