"""The procedural world of ``builtin:shapes``: scenes of coloured shapes, renders, captions.

A scene is one or two objects (shape, colour, position) on a plain or vertical-gradient
background. Every scene has a *combination key* (what is in it, not where exactly); a fixed
tenth of the keys (chosen by hash) is held out: the training sampler never draws them and the
judge measures the model on them, so the scores are on combinations it never saw.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "ANCHORS",
    "COLOURS",
    "IMAGE_SIZE",
    "PAIRS",
    "PHRASES",
    "POSITIONS",
    "SHAPES",
    "Background",
    "Scene",
    "SceneObject",
    "background_array",
    "caption",
    "fragment",
    "full_caption",
    "is_held_out",
    "render",
    "sample_scene",
    "scenes",
]

IMAGE_SIZE = 64
SHAPES = ("circle", "square", "triangle", "star")
# Far apart in RGB (the nearest pair, red/orange, is 113 apart) so a colour reads unambiguously.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 30),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "purple": (140, 50, 180),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
POSITIONS = ("left", "right", "top", "bottom", "centre")
# Object centres in a 64² image (x, y); shapes reach at most 15 px from them (a star's tip with
# jitter), so the two outermost columns and rows are always background (the judge reads it there).
ANCHORS: dict[str, tuple[int, int]] = {
    "left": (17, 32),
    "right": (47, 32),
    "top": (32, 17),
    "bottom": (32, 47),
    "centre": (32, 32),
}
PAIRS = (("left", "right"), ("top", "bottom"))
"""Positions two objects may take (either may be named first)."""
PHRASES = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "centre": "in the centre",
}
GRADIENT_TOWARD = (128, 128, 128)
GRADIENT_AMOUNT = 0.4
"""A gradient background fades from its colour (top) 40% of the way to grey (bottom)."""
HELD_OUT_PERCENT = 10
RADIUS = 10.0
RADIUS_JITTER = 1.0
POSITION_JITTER = 1
SUPERSAMPLE = 4


@dataclass(frozen=True, slots=True)
class SceneObject:
    shape: str
    colour: str
    position: str


@dataclass(frozen=True, slots=True)
class Background:
    colour: str
    gradient: bool


@dataclass(frozen=True, slots=True)
class Scene:
    """What an image shows; ``jitter`` holds the exact placement (dx, dy, radius) per object."""

    objects: tuple[SceneObject, ...]
    background: Background
    jitter: tuple[tuple[int, int, float], ...] = ()

    @property
    def key(self) -> str:
        """The combination: objects (in caption order) and background, without placement."""
        parts = [f"{o.colour} {o.shape} {o.position}" for o in self.objects]
        style = "gradient" if self.background.gradient else "plain"
        return " + ".join(parts) + f" / {self.background.colour} {style}"


def is_held_out(scene: Scene) -> bool:
    digest = hashlib.sha256(scene.key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELD_OUT_PERCENT


def _draw_scene(rng: random.Random, two_objects: float) -> Scene:
    background = Background(rng.choice(list(COLOURS)), rng.random() < 0.5)
    others = [c for c in COLOURS if c != background.colour]
    if rng.random() < 1 - two_objects:  # (at 0.5: the draws of the original world)
        positions: tuple[str, ...] = (rng.choice(POSITIONS),)
    else:
        pair = rng.choice(PAIRS)
        positions = pair if rng.random() < 0.5 else (pair[1], pair[0])
    objects = tuple(SceneObject(rng.choice(SHAPES), rng.choice(others), p) for p in positions)
    jitter = tuple(
        (
            rng.randint(-POSITION_JITTER, POSITION_JITTER),
            rng.randint(-POSITION_JITTER, POSITION_JITTER),
            RADIUS + rng.uniform(-RADIUS_JITTER, RADIUS_JITTER),
        )
        for _ in objects
    )
    return Scene(objects, background, jitter)


def sample_scene(
    rng: random.Random, split: Literal["train", "held_out"], two_objects: float = 0.5
) -> Scene:
    """A random scene whose combination is in ``split`` (rejection sampling), with two objects
    with probability ``two_objects``."""
    want = split == "held_out"
    while True:
        scene = _draw_scene(rng, two_objects)
        if is_held_out(scene) == want:
            return scene


def scenes(seed: int, split: Literal["train", "held_out"]) -> Iterator[Scene]:
    """An endless, reproducible stream of scenes from ``split``."""
    rng = random.Random(seed)
    while True:
        yield sample_scene(rng, split)


def full_caption(scene: Scene) -> str:
    """The caption naming everything: ``"a red star on the left and a white square on the
    right, black gradient background"``."""
    return caption(scene, rng=None)


def caption(scene: Scene, rng: random.Random | None, drop: float = 0.0) -> str:
    """A caption of ``scene``; with ``rng``, each attribute is left out with probability
    ``drop`` (a colourless object is ``"a star"``, a shapeless one ``"a red shape"``), so the
    model learns every partial description (and ``--no red`` has a meaning)."""

    def keep() -> bool:
        return rng is None or rng.random() >= drop

    phrases = []
    for obj in scene.objects:
        words = []
        if keep():
            words.append(obj.colour)
        words.append(obj.shape if keep() else "shape")
        if keep():
            words.append(PHRASES[obj.position])
        article = "an" if words[0][0] in "aeiou" else "a"
        phrases.append(" ".join([article, *words]))
    text = " and ".join(phrases)
    if keep():
        style = " gradient" if scene.background.gradient else ""
        text += f", {scene.background.colour}{style} background"
    return text


def fragment(scene: Scene, rng: random.Random) -> str:
    """A few true words about ``scene`` without the sentence around them: one object's
    colour, shape or position phrase (a non-empty subset, in caption order: ``"red"``,
    ``"star on the left"``) or its background (``"blue background"``). Trained on, they give
    a lone word a meaning, which a negative prompt needs (``--no red`` is the text ``"red"``)."""
    if rng.random() < 0.2:
        style = " gradient" if scene.background.gradient else ""
        return f"{scene.background.colour}{style} background"
    obj = rng.choice(scene.objects)
    words = [obj.colour, obj.shape, PHRASES[obj.position]]
    while True:
        kept = [w for w in words if rng.random() < 0.5]
        if kept:
            return " ".join(kept)


def _polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "square":
        half = r * 0.85
        return [(cx - half, cy - half), (cx + half, cy - half), (cx + half, cy + half),
                (cx - half, cy + half)]  # fmt: skip
    if shape == "triangle":
        radius = r * 1.2
        return [
            (cx + radius * math.sin(a), cy - radius * math.cos(a))
            for a in (0.0, 2 * math.pi / 3, 4 * math.pi / 3)
        ]
    if shape == "star":
        points = []
        for i in range(10):
            radius = r * 1.25 if i % 2 == 0 else r * 0.5
            angle = i * math.pi / 5
            points.append((cx + radius * math.sin(angle), cy - radius * math.cos(angle)))
        return points
    raise ValueError(f"unknown shape {shape!r}; use one of {', '.join(SHAPES)}")


def background_array(background: Background, size: int = IMAGE_SIZE) -> np.ndarray:
    """The background as a ``size×size×3`` float array (0–255)."""
    top = np.array(COLOURS[background.colour], dtype=np.float64)
    if not background.gradient:
        return np.broadcast_to(top, (size, size, 3)).copy()
    bottom = top + GRADIENT_AMOUNT * (np.array(GRADIENT_TOWARD, dtype=np.float64) - top)
    fraction = np.linspace(0.0, 1.0, size)[:, None, None]
    rows = top + fraction * (bottom - top)
    return np.broadcast_to(rows, (size, size, 3)).copy()


def render(scene: Scene, size: int = IMAGE_SIZE) -> Image.Image:
    """The scene as an RGB image, anti-aliased (drawn 4× larger, then box-filtered)."""
    big = size * SUPERSAMPLE
    scale = big / IMAGE_SIZE
    canvas = Image.fromarray(background_array(scene.background, big).round().astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    jitter = scene.jitter or tuple((0, 0, RADIUS) for _ in scene.objects)
    for obj, (dx, dy, radius) in zip(scene.objects, jitter, strict=True):
        ax, ay = ANCHORS[obj.position]
        cx, cy, r = (ax + dx + 0.5) * scale, (ay + dy + 0.5) * scale, radius * scale
        if obj.shape == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=COLOURS[obj.colour])
        else:
            draw.polygon(_polygon(obj.shape, cx, cy, r), fill=COLOURS[obj.colour])
    return canvas.reduce(SUPERSAMPLE)
