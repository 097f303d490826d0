"""Small helpers for comparing images in engine tests."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from PIL import Image


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).astype(np.int16)


def max_diff(a: Image.Image, b: Image.Image) -> int:
    return int(np.abs(pixels(a) - pixels(b)).max())


def mean_diff(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(pixels(a) - pixels(b)).mean())


def layout_diversity(images: Sequence[Image.Image]) -> float:
    """Mean pairwise distance of 8×8 thumbnails: how differently the images are laid out."""
    thumbs = [
        np.asarray(i.convert("RGB").resize((8, 8), Image.Resampling.BOX), dtype=float)
        for i in images
    ]
    return float(np.mean([np.abs(a - b).mean() for a, b in itertools.combinations(thumbs, 2)]))
