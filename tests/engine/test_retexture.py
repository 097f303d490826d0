"""Retexture and Change Background on the tiny model (random weights: the plumbing, not the
looks): results at the source's size; a ControlNet's scale and span change the result and the
model renders as before after it; the fallback without a ControlNet says so; strength maps
monotonically; the subject's pixels exactly the source's outside the seam band; refusals.
Structure kept on a trained model: ``test_retexture_shapes.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from engine.controlnets import BUILTIN_TINY, ControlNetRegistry
from engine.errors import InvalidRequestError
from engine.models import LoadedModel
from engine.operations import render
from engine.plans import control_settings, fallback_strength
from engine.request import (
    BackgroundSpec,
    GenerationRequest,
    Operation,
    RetextureSpec,
    StructureKind,
    WeightedText,
)
from engine.structure.operation import run_background, run_retexture
from engine.structure.segment import seam_band

PROMPT = (WeightedText("a stained glass window"),)
SEEDS = (3, 4)


def drawing(size: tuple[int, int] = (320, 256)) -> Image.Image:
    """Bold dark outlines on white: a house, a sun, a path."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((w * 0.15, h * 0.45, w * 0.55, h * 0.9), outline="black", width=5)
    draw.polygon(
        [(w * 0.1, h * 0.45), (w * 0.35, h * 0.15), (w * 0.6, h * 0.45)], outline="black", width=5
    )
    draw.ellipse((w * 0.68, h * 0.1, w * 0.9, h * 0.38), outline="black", width=5)
    draw.line((w * 0.6, h * 0.95, w * 0.95, h * 0.6), fill="black", width=5)
    return image


def retexture(
    model: LoadedModel, source: Image.Image, strength: int, controlnets: ControlNetRegistry
) -> list[Image.Image]:
    request = GenerationRequest(
        operation=Operation.RETEXTURE, prompt=PROMPT, seeds=SEEDS, count=len(SEEDS),
        source=source, retexture=RetextureSpec(StructureKind.EDGES, strength), steps=6,
    )  # fmt: skip
    return list(run_retexture(model, request, controlnets).images)


def plain(model: LoadedModel, size: tuple[int, int]) -> list[Image.Image]:
    request = GenerationRequest(prompt=PROMPT, seeds=SEEDS, count=len(SEEDS), steps=6)
    return [image.resize(size) for image in render(model, request).images]


def test_without_a_controlnet_the_fallback_runs_and_says_so(tiny: LoadedModel) -> None:
    source = drawing()
    request = GenerationRequest(
        operation=Operation.RETEXTURE, prompt=PROMPT, seeds=SEEDS[:1], count=1, steps=4,
        source=source, retexture=RetextureSpec(StructureKind.EDGES, 50),
    )  # fmt: skip
    result = run_retexture(tiny, request, ControlNetRegistry({}))
    assert result.images[0].size == source.size
    assert result.parameters.structure["controlnet"] is None
    assert "img2img" in result.parameters.structure["fallback"]
    assert result.parameters.strength == fallback_strength(50) == 0.685


def test_strength_maps_onto_the_controlnet_and_the_fallback_monotonically() -> None:
    settings = [control_settings(s) for s in range(0, 101, 10)]
    assert settings[0] == (0.35, 0.45)
    assert settings[-1] == (1.2, 1.0)
    assert [s[0] for s in settings] == sorted(s[0] for s in settings)
    assert [s[1] for s in settings] == sorted(s[1] for s in settings)
    loose = [fallback_strength(s) for s in range(0, 101, 10)]
    assert loose == sorted(loose, reverse=True)
    assert (loose[0], loose[-1]) == (0.92, 0.45)


def test_a_controlnet_steers_by_the_structure_and_leaves_the_model_as_it_was(
    tiny: LoadedModel,
) -> None:
    source = drawing()
    nets = ControlNetRegistry({"edges": BUILTIN_TINY})
    before = plain(tiny, source.size)
    weak, strong = (retexture(tiny, source, s, nets) for s in (0, 100))
    assert all(image.size == source.size for image in strong)
    moved = np.abs(np.asarray(strong[0], float) - np.asarray(weak[0], float)).mean()
    assert moved > 2  # the scale and span change the result
    after = plain(tiny, source.size)
    assert all(
        np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(before, after, strict=True)
    )
    request = GenerationRequest(
        operation=Operation.RETEXTURE, prompt=PROMPT, seeds=SEEDS[:1], count=1, steps=4,
        source=source, retexture=RetextureSpec(StructureKind.EDGES, 100),
    )  # fmt: skip
    details = run_retexture(tiny, request, nets).parameters.structure
    assert details["controlnet"] == BUILTIN_TINY
    assert (details["scale"], details["guidance_end"]) == (1.2, 1.0)


def product(size: tuple[int, int] = (384, 256)) -> tuple[Image.Image, Image.Image]:
    """A textured object on a plain backdrop, and its mask."""
    rng = np.random.default_rng(0)
    image = Image.new("RGB", size, (200, 205, 210))
    mask = Image.new("L", size, 0)
    box = (size[0] * 0.3, size[1] * 0.2, size[0] * 0.7, size[1] * 0.85)
    ImageDraw.Draw(mask).ellipse(box, fill=255)
    texture = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    image.paste(Image.fromarray(texture), (0, 0), mask)
    return image, mask


def test_change_background_keeps_the_subject_exactly(tiny: LoadedModel) -> None:
    source, subject = product()
    request = GenerationRequest(
        operation=Operation.BACKGROUND, prompt=(WeightedText("a beach at sunset"),),
        seeds=SEEDS, count=len(SEEDS), steps=6, source=source,
        background=BackgroundSpec(subject),
    )  # fmt: skip
    result = run_background(tiny, request)
    seam = result.parameters.structure["seam_px"]
    band = seam_band(subject, seam)
    inside = (np.asarray(subject) > 127) & ~band
    outside = (np.asarray(subject) <= 127) & ~band
    original = np.asarray(source)
    for image in result.images:
        assert image.size == source.size
        pixels = np.asarray(image)
        assert int((pixels[inside] != original[inside]).any(axis=-1).sum()) == 0
        assert np.abs(pixels[outside].astype(int) - original[outside]).mean() > 10
    # the ellipse: π/4 · 0.4 · 0.65 of the image
    assert result.parameters.structure["subject_share"] == pytest.approx(0.2042, abs=0.005)


def test_change_background_refuses_without_a_subject(tiny: LoadedModel) -> None:
    source, _ = product()
    asked = GenerationRequest(
        operation=Operation.BACKGROUND, prompt=PROMPT, seeds=SEEDS[:1], count=1, source=source
    )
    with pytest.raises(InvalidRequestError, match="no subject finder is configured"):
        run_background(tiny, asked)
    empty = GenerationRequest(
        operation=Operation.BACKGROUND, prompt=PROMPT, seeds=SEEDS[:1], count=1, source=source,
        background=BackgroundSpec(Image.new("L", source.size, 0)),
    )  # fmt: skip
    with pytest.raises(InvalidRequestError, match="no subject found"):
        run_background(tiny, empty)


def test_the_built_in_controlnet_builds_after_a_face_training(model_cache: Path) -> None:
    """A U-Net that had a trained adapter (``/portrait train`` adds one, then deletes it)
    keeps peft's wrappers; the ControlNet copies the plain weights all the same."""
    import torch
    from peft import LoraConfig

    from engine.controlnets import tiny_controlnet
    from engine.models import load_model

    model = load_model("builtin:tiny", device="cpu", dtype=torch.float32, cache_dir=model_cache)
    clean = tiny_controlnet(model).state_dict()
    unet = model.text2img.unet
    unet.add_adapter(LoraConfig(r=4, target_modules=["to_q", "to_v"]), adapter_name="face")
    unet.delete_adapters("face")
    assert any("base_layer" in key for key in unet.state_dict())  # still wrapped
    again = tiny_controlnet(model).state_dict()
    assert again.keys() == clean.keys()
    assert all(torch.equal(again[key], clean[key]) for key in clean)


def test_depth_and_sdxl_run_through_their_controlnets(
    tiny: LoadedModel, tiny_sdxl: LoadedModel
) -> None:
    from engine.structure.maps import DepthEstimator

    source = drawing((192, 128))
    depth = GenerationRequest(
        operation=Operation.RETEXTURE, prompt=PROMPT, seeds=SEEDS[:1], count=1, steps=3,
        source=source, retexture=RetextureSpec(StructureKind.DEPTH, 60),
    )  # fmt: skip
    nets = ControlNetRegistry({"depth": BUILTIN_TINY, "edges-xl": BUILTIN_TINY})
    made = run_retexture(tiny, depth, nets, DepthEstimator("builtin:tiny"))
    assert made.images[0].size == source.size
    assert made.parameters.structure["structure"] == "depth"
    assert made.parameters.structure["controlnet"] == BUILTIN_TINY
    edges = GenerationRequest(
        operation=Operation.RETEXTURE, prompt=PROMPT, seeds=SEEDS[:1], count=1, steps=3,
        source=source, retexture=RetextureSpec(StructureKind.EDGES, 60),
    )  # fmt: skip
    xl = run_retexture(tiny_sdxl, edges, nets)
    assert xl.images[0].size == source.size
    assert xl.parameters.structure["controlnet"] == BUILTIN_TINY
    # an SDXL model has no SD ControlNet for depth: the fallback, said
    fallback = run_retexture(tiny_sdxl, depth, nets, DepthEstimator("builtin:tiny"))
    assert fallback.parameters.structure["controlnet"] is None
