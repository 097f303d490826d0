"""How well a result keeps its source's structure: the F1 score of their Canny edges, each
edge pixel matched within a tolerance (the measure of Retexture's tests and benchmark)."""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["edge_f1"]


def _edges(image: Image.Image) -> np.ndarray:
    from engine.structure.maps import edge_map

    return np.asarray(edge_map(image.convert("RGB")).convert("L")) > 127


def _near(mask: np.ndarray, tolerance: int) -> np.ndarray:
    import cv2

    kernel = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def edge_f1(result: Image.Image, source: Image.Image, tolerance: int = 2) -> float:
    """F1 of ``result``'s edges against ``source``'s (``result`` is compared at the source's
    size): precision = result edges near a source edge, recall = source edges near a result
    edge, within ``tolerance`` pixels. 0 when either has no edges."""
    truth = _edges(source)
    found = _edges(result.resize(source.size, Image.Resampling.LANCZOS))
    if not truth.any() or not found.any():
        return 0.0
    precision = float((found & _near(truth, tolerance)).sum() / found.sum())
    recall = float((truth & _near(found, tolerance)).sum() / truth.sum())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
