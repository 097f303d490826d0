"""Numeric style codes (``--sref 762351716``): a deterministic style image drawn from the code.

A code seeds ``numpy.random.Generator(PCG64(code))``, which draws, in this order:

1. a palette of 3–6 colours from a hue-harmony scheme (analogous, complementary, split
   complementary, triadic, tetradic or monochrome) and a saturation/brightness mood;
2. a smooth field of domain-warped value noise, mapped through the palette (as a gradient,
   or in flat bands);
3. a texture: brush strokes, film grain, halftone dots or hatching.

The image then goes through the same image encoder as an ``--sref`` URL. Only ``random``,
``integers`` and ``uniform`` draws and IEEE ``+ − × ÷ √`` on arrays are used (no array
``sin``/``exp``, no BLAS, no Pillow resampling), so a code gives the same pixels on every
platform. NEP 19 lets numpy change ``Generator`` streams between versions, so the tests check
determinism rather than fixed bytes. Changing the draw order here changes every code's style:
treat it as a new style version.

Codes are ``0..STYLE_CODE_MAX`` like ``--seed``; larger numbers are an error, not reduced
modulo 2³² (that would silently alias another code). ``--sref random`` becomes
:func:`random_style_code` at submission and is recorded, so rerolls keep the style.
"""

from __future__ import annotations

import colorsys
import secrets
from typing import TYPE_CHECKING

from PIL import Image

from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Floats = NDArray[np.float64]

__all__ = ["STYLE_CODE_MAX", "random_style_code", "style_image"]

STYLE_CODE_MAX = 2**32 - 1
MAX_SIZE = 2048
LATTICE = 128  # value-noise lattice side (a power of two); patterns repeat only beyond it
GRADIENT_STEPS = 4096

# Hue offsets (in turns) of each harmony scheme.
SCHEMES: tuple[tuple[float, ...], ...] = (
    (0.0, 1 / 12, -1 / 12, 2 / 12),  # analogous
    (0.0, 0.5),  # complementary
    (0.0, 5 / 12, 7 / 12),  # split complementary
    (0.0, 1 / 3, 2 / 3),  # triadic
    (0.0, 0.25, 0.5, 0.75),  # tetradic
    (0.0,),  # monochrome
)
# (saturation, brightness) centres: vivid, pastel, muted, dark, neon-on-dark, earthy.
MOODS: tuple[tuple[float, float], ...] = (
    (0.85, 0.85),
    (0.35, 0.92),
    (0.3, 0.62),
    (0.6, 0.38),
    (0.95, 0.6),
    (0.55, 0.55),
)
# Unit directions with rational coordinates (no trigonometry: same bits everywhere).
DIRECTIONS: tuple[tuple[float, float], ...] = (
    (1.0, 0.0),
    (12 / 13, 5 / 13),
    (0.8, 0.6),
    (0.6, 0.8),
    (5 / 13, 12 / 13),
    (0.0, 1.0),
    (-5 / 13, 12 / 13),
    (-0.6, 0.8),
    (-0.8, 0.6),
    (-12 / 13, 5 / 13),
)
TEXTURES = ("strokes", "grain", "halftone", "hatching")


def random_style_code() -> int:
    """A fresh code for ``--sref random``."""
    return secrets.randbelow(STYLE_CODE_MAX + 1)


def style_image(code: int, size: int = 512) -> Image.Image:
    """The ``size``×``size`` RGB style image of ``code``; the same pixels for the same code."""
    import numpy as np

    if not 0 <= code <= STYLE_CODE_MAX:
        raise InvalidRequestError(f"style code {code} is not between 0 and {STYLE_CODE_MAX}")
    if not 1 <= size <= MAX_SIZE:
        raise InvalidRequestError(f"style image size {size} is not between 1 and {MAX_SIZE}")
    rng = np.random.Generator(np.random.PCG64(code))
    # 1. Palette (darkest first) and how it is applied.
    palette = _palette(rng)
    banded = bool(rng.random() < 0.3)
    texture = TEXTURES[int(rng.integers(len(TEXTURES)))]
    along_x, along_y = DIRECTIONS[int(rng.integers(len(DIRECTIONS)))]
    # 2. The smooth field is computed at half resolution: it has no detail to lose.
    field = _upsample(_smooth_field(rng, (size + 1) // 2), size)
    # Coordinates are in "pixels at 512²", so a code looks the same at every size.
    y, x = _axis(size)[:, None], _axis(size)[None, :]
    along, across = x * along_x + y * along_y, y * along_x - x * along_y
    # 3. Brush strokes disturb the field itself, so they take the palette's colours.
    if texture == "strokes":
        length, width = float(rng.uniform(30, 100)), float(rng.uniform(3.0, 8.0))
        strokes = _value_noise(rng, across / width, along / length)
        field = field + float(rng.uniform(0.25, 0.55)) * (strokes - 0.5)
    field = _stretch(field)
    if banded:
        levels = len(palette) + int(rng.integers(0, 3))
        field = np.minimum(np.floor(field * levels), levels - 1) / (levels - 1)
    gradient = _apply_palette(np.linspace(0.0, 1.0, GRADIENT_STEPS), palette)
    rgb = gradient[np.floor(field * (GRADIENT_STEPS - 1) + 0.5).astype(np.int64)]
    # 4. The other textures sit on top of the colours.
    if texture == "grain":
        amount = float(rng.uniform(0.05, 0.14))
        grain = rng.random((size, size)) + rng.random((size, size)) - 1.0
        rgb += amount * grain[..., None]
    elif texture in ("halftone", "hatching"):
        period = float(rng.uniform(8.0, 18.0))
        u, v = along / period, across / period
        dark = 1.0 - (0.299 * rgb[..., :1] + 0.587 * rgb[..., 1:2] + 0.114 * rgb[..., 2:])
        if texture == "halftone":
            du, dv = u - np.floor(u) - 0.5, v - np.floor(v) - 0.5
            ink = np.clip((0.75 * np.sqrt(dark) - np.sqrt(du * du + dv * dv)[..., None]) * 6, 0, 1)
        else:
            line = np.abs(v - np.floor(v) - 0.5)[..., None]
            cross = np.abs(u - np.floor(u) - 0.5)[..., None]
            ink = np.maximum(
                np.clip((0.35 * dark - line) * 8, 0, 1),
                np.clip((0.35 * (dark - 0.5) - cross) * 8, 0, 1),  # cross-hatch the shadows
            )
        paper = 0.35 * rgb + 0.65 * palette[-1]
        rgb = ink * (0.55 * rgb) + (1 - ink) * paper
    pixels = np.floor(np.clip(rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _smooth_field(rng: np.random.Generator, n: int) -> Floats:
    """``n``×``n`` domain-warped value noise: three octaves, displaced by two more fields."""
    cells = float(rng.uniform(90, 260))  # feature size in pixels at 512²
    warp = float(rng.uniform(0.0, 1.6))
    y, x = _axis(n)[:, None] / cells, _axis(n)[None, :] / cells
    warp_x = _value_noise(rng, y / 1.7, x / 1.7) - 0.5
    warp_y = _value_noise(rng, y / 1.7, x / 1.7) - 0.5
    y, x = y + warp * warp_y, x + warp * warp_x
    field = _value_noise(rng, y, x) + 0.5 * _value_noise(rng, 2 * y, 2 * x)
    return field + 0.25 * _value_noise(rng, 4 * y, 4 * x)


def _axis(n: int) -> Floats:
    """Pixel centres of an ``n``-pixel side, in pixels at 512."""
    import numpy as np

    return (np.arange(n, dtype=np.float64) + 0.5) * (512 / n)


def _upsample(field: Floats, n: int) -> Floats:
    """Bilinear resize of a square field to ``n``×``n`` (separable, plain arithmetic)."""
    import numpy as np

    m = field.shape[0]
    position = np.clip((np.arange(n) + 0.5) * (m / n) - 0.5, 0, m - 1)
    low = np.minimum(np.floor(position).astype(np.int64), max(m - 2, 0))
    high = np.minimum(low + 1, m - 1)
    t = position - low
    rows = field[low, :] * (1 - t)[:, None] + field[high, :] * t[:, None]
    resized: Floats = rows[:, low] * (1 - t)[None, :] + rows[:, high] * t[None, :]
    return resized


def _palette(rng: np.random.Generator) -> Floats:
    """3–6 RGB colours (rows, 0..1) of a harmony scheme in a mood, sorted dark to light."""
    import numpy as np

    offsets = SCHEMES[int(rng.integers(len(SCHEMES)))]
    saturation, brightness = MOODS[int(rng.integers(len(MOODS)))]
    count = int(rng.integers(3, 7))
    hue = float(rng.random())
    spread = float(rng.uniform(0.25, 0.5))  # brightness range: the palette needs contrast
    colours = []
    for i in range(count):
        h = (hue + offsets[i % len(offsets)] + float(rng.uniform(-0.025, 0.025))) % 1.0
        s = min(max(saturation + float(rng.uniform(-0.15, 0.15)), 0.0), 1.0)
        v = brightness + spread * (i / (count - 1) - 0.5) + float(rng.uniform(-0.05, 0.05))
        colours.append(colorsys.hsv_to_rgb(h, s, min(max(v, 0.05), 1.0)))
    colours.sort(key=lambda c: 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])
    return np.array(colours, dtype=np.float64)


def _value_noise(rng: np.random.Generator, y: Floats, x: Floats) -> Floats:
    """Value noise (0..1) at ``(y, x)`` on a fresh 128×128 random lattice (wrapping)."""
    import numpy as np

    lattice = rng.random(LATTICE * LATTICE)
    y0, x0 = np.floor(y), np.floor(x)
    ty, tx = y - y0, x - x0
    ty, tx = ty * ty * (3 - 2 * ty), tx * tx * (3 - 2 * tx)  # smoothstep
    row0 = (y0.astype(np.int64) & (LATTICE - 1)) * LATTICE
    row1 = (row0 + LATTICE) & (LATTICE * LATTICE - 1)
    col0 = x0.astype(np.int64) & (LATTICE - 1)
    col1 = (col0 + 1) & (LATTICE - 1)
    top = lattice[row0 + col0] * (1 - tx) + lattice[row0 + col1] * tx
    bottom = lattice[row1 + col0] * (1 - tx) + lattice[row1 + col1] * tx
    return top * (1 - ty) + bottom * ty


def _stretch(field: Floats) -> Floats:
    low, high = float(field.min()), float(field.max())
    return (field - low) / (high - low) if high > low else field * 0.0


def _apply_palette(field: Floats, palette: Floats) -> Floats:
    """Map 0..1 through the palette as a piecewise linear gradient (one RGB row per value)."""
    import numpy as np

    position = field * (len(palette) - 1)
    index = np.minimum(np.floor(position).astype(np.int64), len(palette) - 2)
    t = (position - index)[..., None]
    colours: Floats = palette[index] * (1 - t) + palette[index + 1] * t
    return colours
