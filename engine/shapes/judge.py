"""An analytic judge for the shapes world: reads background, objects (colour, shape, position)
from an image and scores a reading against the scene a caption describes.

No learned weights, so it cannot share the model's mistakes:

* background: a straight-line fit over the border pixels (objects never reach the two outermost
  rows and columns), its top colour named by the nearest palette colour, "gradient" when top
  and bottom differ by more than half the smallest gradient in the world;
* objects: pixels farther from their row's background than half the smallest object/background
  contrast, split into connected components; colour = nearest palette colour to the median of
  the component's core, position = nearest anchor to its centroid, shape = best overlap (IoU)
  of its bounding-box-normalised mask with each shape's template.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

from engine.shapes.world import (
    ANCHORS,
    COLOURS,
    GRADIENT_AMOUNT,
    GRADIENT_TOWARD,
    IMAGE_SIZE,
    SHAPES,
    Background,
    Scene,
    SceneObject,
    render,
)

__all__ = ["ATTRIBUTES", "Detected", "Reading", "Score", "read", "score"]

ATTRIBUTES = ("colour", "shape", "position", "background", "count", "all")
BORDER = 2
MIN_AREA = 40
TEMPLATE_SIDE = 24
_PALETTE = np.array(list(COLOURS.values()), dtype=np.float64)
_NAMES = list(COLOURS)


def _smallest_gradient() -> float:
    grey = np.array(GRADIENT_TOWARD, dtype=np.float64)
    return float(min(np.linalg.norm(GRADIENT_AMOUNT * (grey - c)) for c in _PALETTE))


GRADIENT_THRESHOLD = _smallest_gradient() / 2
OBJECT_THRESHOLD = 36.0
"""Half the smallest contrast between an object and any row of a background it may be on (73.6,
an orange object on a yellow gradient)."""


@dataclass(frozen=True, slots=True)
class Detected:
    shape: str
    colour: str
    position: str
    area: int


@dataclass(frozen=True, slots=True)
class Reading:
    background: Background
    objects: tuple[Detected, ...]


def _nearest_colour(rgb: np.ndarray) -> str:
    return _NAMES[int(np.argmin(np.linalg.norm(_PALETTE - rgb, axis=1)))]


def _normalised(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.uint8) * 255
    side = (TEMPLATE_SIDE, TEMPLATE_SIDE)
    resized = Image.fromarray(crop).resize(side, Image.Resampling.BILINEAR)
    return np.asarray(resized) >= 128


@cache
def _templates() -> dict[str, np.ndarray]:
    out = {}
    for shape in SHAPES:
        scene = Scene((SceneObject(shape, "white", "centre"),), Background("black", False))
        pixels = np.asarray(render(scene, IMAGE_SIZE * 4), dtype=np.float64)
        out[shape] = _normalised(pixels.mean(axis=2) >= 128)
    return out


def _shape_of(mask: np.ndarray) -> str:
    normalised = _normalised(mask)
    best, best_iou = SHAPES[0], -1.0
    for shape, template in _templates().items():
        iou = float((normalised & template).sum()) / float((normalised | template).sum())
        if iou > best_iou:
            best, best_iou = shape, iou
    return best


def read(image: Image.Image) -> Reading:
    """What ``image`` shows (any size; read at 64², the world's native size)."""
    import cv2

    rgb = image.convert("RGB")
    if rgb.size != (IMAGE_SIZE, IMAGE_SIZE):
        rgb = rgb.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)
    pixels = np.asarray(rgb, dtype=np.float64)
    size = IMAGE_SIZE
    border = np.concatenate([pixels[:, :BORDER], pixels[:, -BORDER:]], axis=1)  # (size, 4, 3)
    rows = np.repeat(np.arange(size, dtype=np.float64), 2 * BORDER)
    values = border.reshape(-1, 3)
    design = np.stack([np.ones_like(rows), rows / (size - 1)], axis=1)
    coeffs, *_ = np.linalg.lstsq(design, values, rcond=None)  # (2, 3): top, top→bottom change
    top, change = coeffs[0], coeffs[1]
    background = Background(_nearest_colour(top), bool(np.linalg.norm(change) > GRADIENT_THRESHOLD))
    fitted = top[None, :] + np.linspace(0.0, 1.0, size)[:, None] * change[None, :]
    distance = np.linalg.norm(pixels - fitted[:, None, :], axis=2)
    mask = (distance > OBJECT_THRESHOLD).astype(np.uint8)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    anchors = np.array(list(ANCHORS.values()), dtype=np.float64)
    objects = []
    for label in range(1, count):
        area = int(stats[label, cv2.CC_STAT_AREA])
        if area < MIN_AREA:
            continue
        component = labels == label
        core = cv2.erode(component.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        colour = _nearest_colour(np.median(pixels[core if core.sum() >= 4 else component], 0))
        position = list(ANCHORS)[int(np.argmin(np.linalg.norm(anchors - centroids[label], axis=1)))]
        objects.append(Detected(_shape_of(component), colour, position, area))
    objects.sort(key=lambda o: -o.area)
    return Reading(background, tuple(objects))


@dataclass(frozen=True, slots=True)
class Score:
    """Correct and total counts per attribute for one image (or summed over many)."""

    correct: dict[str, int]
    total: dict[str, int]

    def __add__(self, other: Score) -> Score:
        return Score(
            {a: self.correct.get(a, 0) + other.correct.get(a, 0) for a in ATTRIBUTES},
            {a: self.total.get(a, 0) + other.total.get(a, 0) for a in ATTRIBUTES},
        )

    def accuracy(self) -> dict[str, float]:
        return {a: self.correct[a] / self.total[a] for a in ATTRIBUTES if self.total.get(a)}


def _matches(wanted: SceneObject, found: Detected) -> tuple[bool, bool, bool]:
    return (
        wanted.colour == found.colour,
        wanted.shape == found.shape,
        wanted.position == found.position,
    )


def score(scene: Scene, reading: Reading) -> Score:
    """Per-attribute agreement: each object of the scene is paired with the detection that
    agrees with it most (one detection per object), so colour, shape and position are each
    judged on their own; a missing object counts wrong on all three."""
    wanted = scene.objects
    found: Sequence[Detected | None] = list(reading.objects)
    if len(found) < len(wanted):
        found = [*found, *([None] * (len(wanted) - len(found)))]
    best: tuple[tuple[bool, bool, bool], ...] = ()
    best_sum = -1
    for chosen in itertools.permutations(found, len(wanted)):
        flags = tuple(
            _matches(w, f) if f is not None else (False, False, False)
            for w, f in zip(wanted, chosen, strict=True)
        )
        agreeing = sum(sum(f) for f in flags)
        if agreeing > best_sum:
            best, best_sum = flags, agreeing
    n = len(wanted)
    colour = sum(f[0] for f in best)
    shape = sum(f[1] for f in best)
    position = sum(f[2] for f in best)
    background = reading.background == scene.background
    count = len(reading.objects) == n
    everything = background and count and best_sum == 3 * n
    correct = {
        "colour": colour,
        "shape": shape,
        "position": position,
        "background": int(background),
        "count": int(count),
        "all": int(everything),
    }
    totals = {"colour": n, "shape": n, "position": n, "background": 1, "count": 1, "all": 1}
    return Score(correct, totals)
