"""Score a shapes pipeline on held-out combinations with the judge (used during training;
``bench/builtin_model.py`` runs the same judge through the engine's real path)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from PIL import Image

from engine.shapes.judge import Score, read, score
from engine.shapes.world import Scene, full_caption, sample_scene

__all__ = ["evaluate", "held_out_scenes", "sample_grid"]

GUIDANCE = 7.5
STEPS = 20


def held_out_scenes(count: int, seed: int) -> list[Scene]:
    rng = random.Random(f"held-out/{seed}")
    return [sample_scene(rng, "held_out") for _ in range(count)]


def sample_grid(images: list[Image.Image], columns: int = 8, scale: int = 2) -> Image.Image:
    """Images side by side (nearest-neighbour enlarged ``scale`` times) for a quick look."""
    side = images[0].width * scale
    rows = (len(images) + columns - 1) // columns
    grid = Image.new("RGB", (columns * side, rows * side))
    for i, image in enumerate(images):
        big = image.resize((side, side), Image.Resampling.NEAREST)
        grid.paste(big, ((i % columns) * side, (i // columns) * side))
    return grid


def evaluate(
    pipe: Any,
    count: int,
    *,
    seed: int = 0,
    grid_path: Path | None = None,
    steps: int = STEPS,
    guidance: float = GUIDANCE,
    batch: int = 32,
) -> dict[str, float]:
    """Accuracy per attribute over ``count`` held-out scenes rendered from full captions."""
    import torch
    from diffusers import DPMSolverMultistepScheduler

    pipe.scheduler = DPMSolverMultistepScheduler.from_config(
        pipe.scheduler.config, algorithm_type="dpmsolver++", use_karras_sigmas=True
    )
    pipe.set_progress_bar_config(disable=True)
    scenes = held_out_scenes(count, seed)
    images: list[Image.Image] = []
    for start in range(0, count, batch):
        chunk = scenes[start : start + batch]
        generators = [torch.Generator().manual_seed(seed * 100_003 + start + i)
                      for i in range(len(chunk))]  # fmt: skip
        with torch.no_grad():
            output = pipe(
                [full_caption(s) for s in chunk],
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=generators,
                output_type="pil",
            )
        images.extend(output.images)
    total: Score | None = None
    for scene, image in zip(scenes, images, strict=True):
        one = score(scene, read(image))
        total = one if total is None else total + one
    assert total is not None  # noqa: S101 - count >= 1
    if grid_path is not None:
        grid_path.parent.mkdir(parents=True, exist_ok=True)
        sample_grid(images[:32]).save(grid_path)
    return total.accuracy()
