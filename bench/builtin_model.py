"""Judge ``builtin:shapes`` through the engine's real path (``load_model`` + ``render``).

Prints, on caption combinations held out of training:

* accuracy per attribute (colour, shape, position, background; count and all-correct too),
  against the targets of issue 14;
* ``--no red``: how often colourless prompts come out red, with and without the negative;
* img2img (Vary Subtle/Strong with a new colour in the prompt): layout kept, new colour taken;
* inpainting (Vary Region over one object with a new colour): that object recoloured, the
  other kept, every pixel outside the mask unchanged;
* seeds: a grid renders identically twice, and one cell re-rendered alone equals its cell.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python bench/builtin_model.py [--model builtin:shapes]
[--prompts 48] [--seed 0] [--strict]`` (``--strict``: exit 1 when a target is missed).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

# Run as a script: the repository root must come before bench/ (which has an engine.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from engine.display import for_display
from engine.models import LoadedModel, load_model
from engine.operations import render
from engine.request import GenerationRequest, Operation, Strength, WeightedText
from engine.shapes.evaluate import held_out_scenes
from engine.shapes.judge import ATTRIBUTES, Reading, Score, read, score
from engine.shapes.world import (
    ANCHORS,
    COLOURS,
    PHRASES,
    Background,
    Scene,
    SceneObject,
    full_caption,
)
from engine.shapes.world import (
    render as render_scene,
)

TARGETS = {"colour": 0.95, "background": 0.95, "position": 0.85, "shape": 0.75}


def _request(text: str, seed: int, **extra: object) -> GenerationRequest:
    return GenerationRequest(prompt=(WeightedText(text),), seed=seed, **extra)  # type: ignore[arg-type]


def accuracy(model: LoadedModel, prompts: int, seed: int) -> tuple[dict[str, float], float]:
    total: Score | None = None
    started = time.perf_counter()
    for i, scene in enumerate(held_out_scenes(prompts, seed)):
        result = render(model, _request(full_caption(scene), seed * 1000 + 4 * i))
        for image in result.images:
            one = score(scene, read(image))
            total = one if total is None else total + one
    assert total is not None  # noqa: S101 - prompts >= 1
    return total.accuracy(), time.perf_counter() - started


def vae_ceiling(model: LoadedModel, count: int, seed: int) -> dict[str, float]:
    """Judge accuracy on the VAE's reconstructions of ground-truth held-out renders: the most
    the diffusion model can reach through this decoder."""
    import torch

    pipe = model.text2img
    total: Score | None = None
    for scene in held_out_scenes(count, seed + 7):
        pixels = torch.from_numpy(np.asarray(render_scene(scene), dtype=np.float32))
        batch = (pixels.permute(2, 0, 1)[None] / 127.5 - 1.0).to(pipe.device, pipe.vae.dtype)
        with torch.no_grad():
            decoded = pipe.vae.decode(pipe.vae.encode(batch).latent_dist.mean).sample
        image = pipe.image_processor.postprocess(decoded, output_type="pil")[0]
        one = score(scene, read(image))
        total = one if total is None else total + one
    assert total is not None  # noqa: S101 - count >= 1
    return total.accuracy()


def _colourless(rng: random.Random, background: str) -> str:
    shape = rng.choice(["circle", "square", "triangle", "star"])
    return f"a {shape} {PHRASES[rng.choice(list(ANCHORS))]}, {background} background"


def negative_check(model: LoadedModel, prompts: int, seed: int) -> tuple[float, float]:
    """Share of objects that are red without and with ``--no red``."""
    rng = random.Random(seed)
    counts = {False: [0, 0], True: [0, 0]}
    for i in range(prompts):
        text = _colourless(rng, rng.choice(["white", "black", "blue", "green"]))
        for negative in (False, True):
            extra = {"negative": ("red",)} if negative else {}
            for image in render(model, _request(text, seed * 1000 + 4 * i, **extra)).images:
                objects = read(image).objects
                counts[negative][0] += sum(o.colour == "red" for o in objects)
                counts[negative][1] += len(objects)
    return (counts[False][0] / max(1, counts[False][1]), counts[True][0] / max(1, counts[True][1]))


def _single(rng: random.Random) -> Scene:
    colour, background = rng.sample(list(COLOURS), 2)
    shape = rng.choice(["circle", "square", "triangle", "star"])
    return Scene(
        (SceneObject(shape, colour, rng.choice(list(ANCHORS))),), Background(background, False)
    )


def _new_colour(rng: random.Random, scene: Scene, index: int = 0) -> Scene:
    taken = {scene.background.colour, scene.objects[index].colour}
    colour = rng.choice([c for c in COLOURS if c not in taken])
    objects = list(scene.objects)
    objects[index] = replace(objects[index], colour=colour)
    return Scene(tuple(objects), scene.background)


def img2img_check(
    model: LoadedModel, prompts: int, seed: int, strength: Strength
) -> dict[str, float]:
    """Vary from a drawn scene with a prompt naming a new colour: layout and new colour."""
    rng = random.Random(seed + 1)
    kept = {"position": 0, "shape": 0, "new colour": 0, "background": 0}
    images = 0
    for i in range(prompts):
        source_scene = _single(rng)
        wanted = _new_colour(rng, source_scene)
        source = for_display(render_scene(source_scene), model.native)
        request = _request(
            full_caption(wanted), seed * 1000 + 4 * i,
            operation=Operation.VARIATION, source=source, strength=strength,
        )  # fmt: skip
        for image in render(model, request).images:
            one = score(wanted, read(image))
            kept["position"] += one.correct["position"]
            kept["shape"] += one.correct["shape"]
            kept["new colour"] += one.correct["colour"]
            kept["background"] += one.correct["background"]
            images += 1
    return {k: v / images for k, v in kept.items()}


def _object_mask(scene: Scene, index: int, native: int) -> Image.Image:
    x, y = ANCHORS[scene.objects[index].position]
    mask = Image.new("L", (native, native), 0)
    mask.paste(255, (x - 15, y - 15, x + 16, y + 16))
    return for_display(mask, native)


def inpaint_check(model: LoadedModel, prompts: int, seed: int) -> dict[str, float]:
    """Vary Region over the first of two objects, asking for a new colour."""
    rng = random.Random(seed + 2)
    results = {"recoloured": 0, "other kept": 0, "outside max diff": 0.0}
    images = 0
    for i in range(prompts):
        pair = rng.choice([("left", "right"), ("top", "bottom")])
        colours = rng.sample(list(COLOURS), 3)
        shapes = [rng.choice(["circle", "square", "triangle", "star"]) for _ in range(2)]
        scene = Scene(
            tuple(SceneObject(s, c, p) for s, c, p in zip(shapes, colours[:2], pair, strict=True)),
            Background(colours[2], False),
        )
        wanted = _new_colour(rng, scene, 0)
        source = for_display(render_scene(scene), model.native)
        mask = _object_mask(scene, 0, model.native)
        request = _request(
            full_caption(wanted), seed * 1000 + 4 * i,
            operation=Operation.REGION, source=source, mask=mask,
        )  # fmt: skip
        outside = np.asarray(mask) == 0
        for image in render(model, request).images:
            reading = read(image)
            results["recoloured"] += _has(reading, wanted.objects[0], colour_only=True)
            results["other kept"] += _has(reading, scene.objects[1], colour_only=False)
            diff = np.abs(np.asarray(image, dtype=int) - np.asarray(source, dtype=int)).max(2)
            results["outside max diff"] = max(
                results["outside max diff"], float(diff[outside].max())
            )
            images += 1
    results["recoloured"] /= images
    results["other kept"] /= images
    return results


def _has(reading: Reading, wanted: SceneObject, *, colour_only: bool) -> bool:
    for found in reading.objects:
        if found.position == wanted.position and found.colour == wanted.colour:
            return colour_only or found.shape == wanted.shape
    return False


def seed_check(model: LoadedModel, seed: int) -> tuple[int, int]:
    """Max pixel difference: grid rendered twice; cell 3 alone vs in the grid."""
    text = "a red circle on the left, blue background"
    first = render(model, _request(text, seed)).images
    second = render(model, _request(text, seed)).images
    alone = render(model, _request(text, seed, seeds=(seed + 2,), count=1)).images[0]

    def diff(a: Image.Image, b: Image.Image) -> int:
        return int(np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max())

    return max(diff(a, b) for a, b in zip(first, second, strict=True)), diff(first[2], alone)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="builtin:shapes")
    parser.add_argument("--prompts", type=int, default=48, help="held-out prompts (4 images each)")
    parser.add_argument("--checks", type=int, default=8, help="prompts per parameter check")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    import torch

    torch.manual_seed(0)
    model = load_model(args.model, device="cpu", dtype=torch.float32, cache_dir=Path("data/models"))
    for derived in (model.img2img(), model.inpaint()):
        derived.set_progress_bar_config(disable=True)
    print(f"model {args.model}: native {model.native} px, {model.base_steps} steps")
    scores, seconds = accuracy(model, args.prompts, args.seed)
    print(f"\nheld-out accuracy ({args.prompts} prompts × 4 images, {seconds:.0f} s):")
    missed = []
    for attribute in ATTRIBUTES:
        target = TARGETS.get(attribute)
        verdict = "" if target is None else ("ok" if scores[attribute] >= target else "BELOW")
        if verdict == "BELOW":
            missed.append(attribute)
        shown = f"target {target:.0%}" if target is not None else ""
        print(f"  {attribute:<11}{scores[attribute]:7.1%}   {shown:<12}{verdict}")
    ceiling = vae_ceiling(model, 4 * args.prompts, args.seed)
    shown = ", ".join(f"{a} {ceiling[a]:.0%}" for a in TARGETS)
    print(f"  (VAE reconstructions of the true images score: {shown})")
    plain, negated = negative_check(model, args.checks, args.seed)
    print(f"\n--no red: red objects {plain:.1%} without, {negated:.1%} with")
    if not negated < plain or negated > 0.02:
        missed.append("--no")
    for strength in (Strength.SUBTLE, Strength.STRONG):
        kept = img2img_check(model, args.checks, args.seed, strength)
        shown = ", ".join(f"{k} {v:.0%}" for k, v in kept.items())
        print(f"img2img (Vary {strength}, new colour in the prompt): {shown}")
    region = inpaint_check(model, args.checks, args.seed)
    print(
        f"inpainting (Vary Region on one object): recoloured {region['recoloured']:.0%}, "
        f"other object kept {region['other kept']:.0%}, "
        f"max pixel change outside the mask {region['outside max diff']:.0f}"
    )
    if region["outside max diff"] > 0:
        missed.append("region")
    repeat, cell = seed_check(model, args.seed)
    print(f"seeds: max pixel difference grid vs grid {repeat}, cell alone vs in grid {cell}")
    # A cell rendered alone runs at batch 1: float rounding may move a pixel by one level.
    if repeat or cell > 1:
        missed.append("seeds")
    print("\nmissed: " + (", ".join(missed) if missed else "nothing"))
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
