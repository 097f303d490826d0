"""``builtin:shapes``: the shipped model loads through the real loader, renders through the
engine at display size, reproduces seeds, edits regions exactly and draws what it is asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.display import for_display
from engine.models import SHAPES_FOLDER, Architecture, LoadedModel, load_model
from engine.operations import render
from engine.request import GenerationRequest, Operation, WeightedText
from engine.shapes.evaluate import held_out_scenes
from engine.shapes.judge import read, score
from engine.shapes.world import Background, Scene, SceneObject, full_caption
from engine.shapes.world import render as render_scene
from tests.engine.helpers import layout_diversity, max_diff

MAX_MEGABYTES = 20


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    import torch

    return load_model(
        "builtin:shapes",
        device="cpu",
        dtype=torch.float32,
        cache_dir=tmp_path_factory.mktemp("models"),
    )


def _imagine(model: LoadedModel, text: str, **extra: object) -> tuple[Image.Image, ...]:
    request = GenerationRequest(prompt=(WeightedText(text),), **extra)  # type: ignore[arg-type]
    return render(model, request).images


def test_shipped_folder_is_small_float16_clip_format() -> None:
    from safetensors import safe_open

    files = [p for p in SHAPES_FOLDER.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= MAX_MEGABYTES * 2**20
    tensors = [p for p in files if p.suffix == ".safetensors"]
    assert {p.parent.name for p in tensors} == {"vae", "unet", "text_encoder", "controlnet-edges"}
    for path in tensors:
        with safe_open(str(path), "pt") as weights:
            assert all(str(weights.get_slice(k).get_dtype()) == "F16" for k in weights.keys())  # noqa: SIM118
    assert {"vocab.json", "merges.txt"} <= {p.name for p in (SHAPES_FOLDER / "tokenizer").iterdir()}


def test_loads_as_stable_diffusion_in_float32(shapes: LoadedModel) -> None:
    import torch

    assert shapes.architecture is Architecture.SD
    assert type(shapes.text2img).__name__ == "StableDiffusionPipeline"
    assert (shapes.native, shapes.vae_scale_factor, shapes.base_steps) == (64, 4, 20)
    assert shapes.dtype == torch.float32
    assert shapes.text2img.tokenizer.model_max_length == 32
    assert shapes.adapter_source is None


def test_images_are_enlarged_for_display_and_seeds_reproduce(shapes: LoadedModel) -> None:
    text = "a red circle on the left, blue background"
    first = _imagine(shapes, text, seed=21, count=2)
    again = _imagine(shapes, text, seed=21, count=2)
    other = _imagine(shapes, text, seed=23, count=1)
    assert all(image.size == (256, 256) for image in first)
    pixels = np.asarray(first[0])
    assert np.array_equal(pixels, pixels[::4, ::4].repeat(4, axis=0).repeat(4, axis=1))
    assert all(max_diff(a, b) == 0 for a, b in zip(first, again, strict=True))
    assert max_diff(first[0], other[0]) > 16


def test_region_edit_keeps_every_pixel_outside_the_mask(shapes: LoadedModel) -> None:
    scene = Scene(
        (SceneObject("star", "red", "left"), SceneObject("square", "white", "right")),
        Background("blue", False),
    )
    source = for_display(render_scene(scene), 64)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (2, 17, 33, 48))
    mask = for_display(mask, 64)
    request = GenerationRequest(
        operation=Operation.REGION,
        prompt=(WeightedText("a green star on the left and a white square on the right"),),
        source=source,
        mask=mask,
        seed=3,
        count=1,
    )
    edited = render(shapes, request).images[0]
    outside = np.asarray(mask) == 0
    changed = np.abs(np.asarray(edited, dtype=int) - np.asarray(source, dtype=int)).max(axis=2)
    assert changed[outside].max() == 0
    assert changed[~outside].max() > 0


@pytest.mark.parametrize("strength", ["subtle", "strong"])
def test_variations_keep_the_layout(shapes: LoadedModel, strength: str) -> None:
    """Vary (Subtle/Strong) of a yellow star on the right of purple: the judge reads that
    scene in every image of the grid (it is a variation of it, not a new drawing)."""
    from engine.request import Strength

    scene = Scene((SceneObject("star", "yellow", "right"),), Background("purple", False))
    request = GenerationRequest(
        operation=Operation.VARIATION,
        prompt=(WeightedText("a yellow star on the right, purple background"),),
        source=for_display(render_scene(scene), 64),
        strength=Strength(strength),
        seed=9,
    )
    readings = [read(image) for image in render(shapes, request).images]
    assert [r.background for r in readings] == [scene.background] * 4
    found = [[(o.colour, o.shape, o.position) for o in r.objects] for r in readings]
    assert found == [[("yellow", "star", "right")]] * 4


def test_chaos_spreads_an_open_prompt_and_still_draws_a_full_one(shapes: LoadedModel) -> None:
    """``a square, blue background`` leaves the square's colour, place and size open: at
    --chaos 100 the grids' layouts spread (mean pairwise distance of 8×8 thumbnails over six
    grids) at least 1.5× as far as at --chaos 0 (measured 2.58–2.72× on two seed ranges with
    the step-38000 snapshot; prompts that leave the background open too are already spread by
    their seeds: 1.0–1.8×); a prompt that names everything is still drawn as asked in every
    image at --chaos 100."""
    text = "a square, blue background"
    calm, wild = (
        np.mean([layout_diversity(_imagine(shapes, text, seed=s, chaos=c)) for s in range(6)])
        for c in (0, 100)
    )
    assert wild >= 1.5 * calm
    scene = Scene((SceneObject("circle", "red", "left"),), Background("blue", False))
    for image in _imagine(shapes, full_caption(scene), seed=200, chaos=100):
        assert score(scene, read(image)).correct["all"] == 1


def test_no_removes_the_colour_it_names(shapes: LoadedModel) -> None:
    """Prompts that leave the object's colour open (eight backgrounds), four images each:
    ``--no black`` (a negative prompt of one word, which the model learnt from bare-word
    captions) leaves at most a quarter of the black objects drawn without it (measured on the
    step-38000 snapshot: 17 of 32 objects black without, 1 with; ``--no white`` 5 → 0)."""
    import collections
    import random

    rng = random.Random(3)
    texts = [
        f"a {rng.choice(['circle', 'square', 'triangle', 'star'])} on the left, {bg} background"
        for bg in ("white", "black", "green", "yellow", "purple", "orange", "red", "white")
    ]

    def colours(negative: tuple[str, ...]) -> collections.Counter[str]:
        found: collections.Counter[str] = collections.Counter()
        for i, text in enumerate(texts):
            for image in _imagine(shapes, text, seed=100 + 4 * i, negative=negative):
                found.update(o.colour for o in read(image).objects)
        return found

    plain, without_black = colours(()), colours(("black",))
    assert plain["black"] >= 10
    assert without_black["black"] <= plain["black"] / 4
    assert sum(without_black.values()) >= 0.9 * sum(plain.values())  # objects still drawn


def test_draws_what_held_out_prompts_ask(shapes: LoadedModel) -> None:
    """24 held-out captions through the engine's own path, read by the judge. The shipped
    snapshot (step 38000) measured background 24/24, count 24/24, colour 33/35, shape 35/35
    and position 33/35 here (step 30000: colour 35/35, position 31/35; step 15000: colour
    27/35, position 35/35); the bars sit below,
    and far above chance (1 in 7 colours for an object, 5 positions, 4 shapes)."""
    from engine.shapes.world import COLOURS, POSITIONS, SHAPES

    scenes = held_out_scenes(24, seed=5)
    correct = dict.fromkeys(("colour", "background", "count", "position", "shape"), 0)
    objects = 0
    for i, scene in enumerate(scenes):
        image = _imagine(shapes, full_caption(scene), seeds=(1000 + i,), count=1)[0]
        result = score(scene, read(image))
        for attribute in correct:
            correct[attribute] += result.correct[attribute]
        objects += result.total["colour"]
    assert correct["background"] >= 0.85 * len(scenes)
    assert correct["count"] >= 0.85 * len(scenes)
    assert correct["colour"] >= max(0.8, 4 / len(COLOURS)) * objects
    assert correct["position"] >= max(0.85, 3 / len(POSITIONS)) * objects
    assert correct["shape"] >= max(0.85, 2 / len(SHAPES)) * objects


def test_the_house_style_is_not_added_to_its_closed_vocabulary(shapes: LoadedModel) -> None:
    # Its text encoder knows only its captions' words (32 tokens): the default look and
    # --style raw are the same render.
    from engine.request import Style

    text = "a yellow square at the top, green background"
    default = _imagine(shapes, text, seed=4, count=1)[0]
    raw = _imagine(shapes, text, seed=4, count=1, style=Style.RAW)[0]
    assert max_diff(default, raw) == 0


def test_an_exported_folder_loaded_by_path_keeps_its_closed_vocabulary(tmp_path: Path) -> None:
    """A candidate export judged by its path (``bench/builtin_model.py --model DIR``) must be
    rendered as the shipped one is: without the house style."""
    import shutil

    import torch

    folder = tmp_path / "candidate"
    shutil.copytree(SHAPES_FOLDER, folder)
    loaded = load_model(str(folder), device="cpu", dtype=torch.float32, cache_dir=tmp_path)
    assert loaded.closed_vocabulary
    (folder / "training.json").write_text("{}", encoding="utf-8")  # no declaration: open
    again = load_model(str(folder), device="cpu", dtype=torch.float32, cache_dir=tmp_path)
    assert not again.closed_vocabulary


def test_missing_weights_say_how_to_export(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import torch

    from engine import models
    from engine.errors import ModelLoadError

    monkeypatch.setattr(models, "SHAPES_FOLDER", tmp_path / "absent")
    with pytest.raises(ModelLoadError, match=r"engine\.shapes\.export"):
        load_model("builtin:shapes", device="cpu", dtype=torch.float32, cache_dir=tmp_path)
