"""Retexture on the trained built-in model with its trained edges ControlNet: the structure of
a scene the model would never draw by itself (objects moved and resized far from their named
places) is kept — the edge F1 against the source is at least twice a plain grid's of the same
prompt, and rises with strength — while the colours follow the new prompt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.controlnets import ControlNetRegistry
from engine.models import SHAPES_SOURCE, LoadedModel, load_model
from engine.operations import render
from engine.request import GenerationRequest, Operation, RetextureSpec, WeightedText
from engine.shapes.world import COLOURS, Background, Scene, SceneObject
from engine.shapes.world import render as draw
from engine.structure.fidelity import edge_f1
from engine.structure.operation import run_retexture

SEEDS = (1, 2, 3, 4)
PROMPT = (
    WeightedText("a yellow star on the left and a green triangle on the right, black background"),
)
SCENE = Scene(
    (SceneObject("star", "red", "left"), SceneObject("triangle", "white", "right")),
    Background("blue", gradient=False),
    ((6, 9, 14.0), (-4, -11, 7.0)),  # the star moved down and enlarged, the triangle up and shrunk
)
DISPLAY = 4
"""The shapes model's 64² images are shown 4× enlarged (engine.display)."""


@pytest.fixture(scope="module")
def shapes(model_cache: Path) -> LoadedModel:
    import torch

    return load_model(SHAPES_SOURCE, device="cpu", dtype=torch.float32, cache_dir=model_cache)


def source() -> Image.Image:
    return draw(SCENE).resize((64 * DISPLAY, 64 * DISPLAY), Image.Resampling.NEAREST)


def retexture(model: LoadedModel, strength: int) -> list[Image.Image]:
    request = GenerationRequest(
        operation=Operation.RETEXTURE, prompt=PROMPT, seeds=SEEDS, count=len(SEEDS),
        source=source(), retexture=RetextureSpec(strength=strength),
    )  # fmt: skip
    result = run_retexture(model, request, ControlNetRegistry({}))
    assert result.parameters.structure["controlnet"] is not None  # the shipped ControlNet
    return list(result.images)


def f1(images: list[Image.Image]) -> float:
    return float(np.mean([edge_f1(image, source()) for image in images]))


def nearest_colour(pixel: np.ndarray) -> str:
    return min(COLOURS, key=lambda name: float(np.sum((np.asarray(COLOURS[name]) - pixel) ** 2)))


def drawn_colours(image: Image.Image) -> dict[str, float]:
    """The share of each palette colour among the result's object pixels (those not nearest
    the prompt's black background)."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64).reshape(-1, 3)
    names = list(COLOURS)
    palette = np.asarray([COLOURS[name] for name in names], dtype=np.float64)
    nearest = np.argmin(((pixels[:, None, :] - palette[None]) ** 2).sum(-1), axis=1)
    drawn = nearest[nearest != names.index("black")]
    return {name: float(np.mean(drawn == k)) if drawn.size else 0.0 for k, name in enumerate(names)}


def test_the_structure_is_kept_and_the_colours_follow_the_prompt(shapes: LoadedModel) -> None:
    plain = render(shapes, GenerationRequest(prompt=PROMPT, seeds=SEEDS, count=len(SEEDS)))
    baseline = f1(list(plain.images))
    scores = {strength: f1(retexture(shapes, strength)) for strength in (0, 50, 100)}
    assert scores[0] <= scores[50] <= scores[100], scores
    assert scores[100] >= 2 * baseline, (scores, baseline)
    corner = (slice(0, 6 * DISPLAY), slice(0, 6 * DISPLAY))  # background, far from both
    cells = retexture(shapes, 100)
    backdrop = [
        nearest_colour(np.asarray(cell)[corner].reshape(-1, 3).mean(axis=0)) for cell in cells
    ]
    assert backdrop.count("black") >= 3, backdrop  # the prompt's background, not the blue one
    for cell in cells:
        shares = drawn_colours(cell)
        # the objects are drawn in the prompt's colours, not the source's red and white
        assert shares["yellow"] + shares["green"] >= 0.8, shares
        assert shares["red"] + shares["white"] + shares["blue"] <= 0.1, shares
