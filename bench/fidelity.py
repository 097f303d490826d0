"""Parameter fidelity: the measured effect of each parameter (issue 15), in one run.

Prints the --ar ratio/pixel error table at native 256/512/1024, the --chaos diversity curve
(mean pairwise distance of the grid's 8×8 thumbnails), the --stylize curve (distance of the
house-styled render from the raw one, and of raw from raw at --s 0), raw against default,
the --sw curve (adapter scale and the change it makes), and seam ratios for --tile grids,
their upscales and variations. Renders use the built-in tiny models on the CPU.

Run: .venv/bin/python bench/fidelity.py [--model builtin:tiny]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

PROMPT = "a red fox in the snow"
NAMED_RATIOS = [(16, 9), (7, 4), (3, 2), (4, 3), (5, 4), (4, 5), (2, 3), (21, 9), (4, 1), (1, 4)]


def aspect_table() -> None:
    from engine.sizes import MAX_ASPECT, size_for_aspect

    print("--ar: size, ratio error, pixel error (sides in multiples of 16)")
    for native in (256, 512, 1024):
        cells = []
        for w, h in NAMED_RATIOS:
            width, height = size_for_aspect((w, h), native)
            cells.append(f"{w}:{h} {width}×{height} {100 * abs(width / height / (w / h) - 1):.1f}%")
        every = {
            Fraction(w, h)
            for w in range(1, 33)
            for h in range(1, 33)
            if 1 / MAX_ASPECT <= w / h <= MAX_ASPECT
        }
        worst_ratio = worst_pixels = 0.0
        for ratio in every:
            width, height = size_for_aspect((ratio.numerator, ratio.denominator), native)
            worst_ratio = max(worst_ratio, abs(width / height / float(ratio) - 1))
            worst_pixels = max(worst_pixels, abs(width * height / native**2 - 1))
        print(f"  native {native}: " + ", ".join(cells))
        target = 5.0 if native == 256 else 1.5
        print(
            f"    worst over {len(every)} ratios 1:4..4:1: ratio {100 * worst_ratio:.2f}% "
            f"(target ≤ {target}%), pixels {100 * worst_pixels:.1f}% (target ≤ 10%)"
        )


def thumbs_diversity(images: list[Any]) -> float:
    import numpy as np
    from PIL import Image

    thumbs = [
        np.asarray(i.convert("RGB").resize((8, 8), Image.Resampling.BOX), dtype=float)
        for i in images
    ]
    return float(np.mean([np.abs(a - b).mean() for a, b in itertools.combinations(thumbs, 2)]))


def distance(first: list[Any], second: list[Any]) -> float:
    import numpy as np

    return float(
        np.mean(
            [
                np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).mean()
                for a, b in zip(first, second, strict=True)
            ]
        )
    )


def grid(model: Any, **changes: Any) -> list[Any]:
    from engine.operations import render
    from engine.request import GenerationRequest, WeightedText

    request = GenerationRequest(prompt=(WeightedText(PROMPT),), **changes)
    return list(render(model, request).images)


def chaos_curve(model: Any) -> None:
    values = []
    for chaos in (0, 25, 50, 75, 100):
        per_seed = [thumbs_diversity(grid(model, seed=seed, chaos=chaos)) for seed in (11, 40)]
        values.append(f"{chaos}: {sum(per_seed) / 2:.2f}")
    print("--chaos: grid diversity (mean pairwise 8×8-thumbnail distance, 2 grids):")
    print("  " + ", ".join(values))


def stylize_curves(model: Any) -> None:
    from engine.house_style import style_strength
    from engine.request import Style

    seeds = {"seeds": (3, 30), "count": 2}
    raw0 = grid(model, style=Style.RAW, stylize=0, **seeds)
    styled, literal = [], []
    for stylize in (0, 50, 100, 250, 500, 750, 1000):
        default = grid(model, stylize=stylize, **seeds)
        raw = grid(model, stylize=stylize, style=Style.RAW, **seeds)
        styled.append(f"{stylize}: {distance(default, raw):.3f} (w {style_strength(stylize):.2f})")
        literal.append(f"{stylize}: {distance(raw, raw0):.3f}")
    print("--stylize: distance house style vs --style raw at the same --s (strength w):")
    print("  " + ", ".join(styled))
    print("--stylize with --style raw: distance from raw at --s 0 (guidance only):")
    print("  " + ", ".join(literal))
    raw_default = distance(grid(model, **seeds), grid(model, style=Style.RAW, **seeds))
    print(f"raw vs default (--s 100): {raw_default:.3f}")


def style_weight_curve(model: Any) -> None:
    import numpy as np
    from PIL import Image

    from engine.references import style_scale
    from engine.request import Reference, ReferenceRole

    rng = np.random.default_rng(1)
    picture = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize(
        (96, 96), Image.Resampling.BICUBIC
    )
    reference = (Reference(ReferenceRole.STYLE, picture),)
    model.adapter_source = "builtin:tiny"
    common = {"seeds": (7,), "count": 1, "steps": 4, "references": reference}
    images = {sw: grid(model, style_weight=sw, **common) for sw in (0, 100, 250, 500, 1000)}
    moved = [f"{sw}: {distance(images[sw], images[0]):.3f}" for sw in (100, 250, 500, 1000)]
    scales = [f"{sw}: {style_scale(sw):.2f}" for sw in (50, 100, 250, 500, 1000)]
    step = distance(images[1000], images[500]) / max(distance(images[1000], images[0]), 1e-9)
    print("--sw: adapter scale " + ", ".join(scales))
    print("  change from --sw 0: " + ", ".join(moved))
    print(f"  500 → 1000 moves the image by {100 * step:.0f}% of 0 → 1000 (was 0.5%)")


def seams(model: Any) -> None:
    from engine.operations import render
    from engine.request import GenerationRequest, Operation, Strength, WeightedText
    from engine.tiling import circular_padding, seam_ratio

    prompt = (WeightedText(PROMPT),)
    tiles = grid(model, seeds=(1, 2), count=2, tile=True)
    plain = grid(model, seeds=(1, 2), count=2)
    print("--tile seam ratio (≈1 seamless; plain images show their edges):")
    tiled_ratios = [round(seam_ratio(t), 2) for t in tiles]
    print(f"  grid tile {tiled_ratios}, plain {[round(seam_ratio(p), 2) for p in plain]}")
    for operation, strength in (
        (Operation.UPSCALE, Strength.SUBTLE),
        (Operation.UPSCALE, Strength.STRONG),
        (Operation.VARIATION, Strength.SUBTLE),
    ):
        children = [
            render(
                model,
                GenerationRequest(
                    operation=operation,
                    prompt=prompt,
                    source=t,
                    strength=strength,
                    seeds=(5,),
                    count=1,
                    tile=True,
                ),
            ).images[0]
            for t in tiles
        ]
        print(f"  {operation} {strength}: {[round(seam_ratio(c), 2) for c in children]}")
    # What the upscale did before: tiled VAE with circular convolutions, each tile wrapping
    # on itself (and a clamped resize).
    pipe = model.img2img()
    pipe.vae.enable_tiling()
    try:
        with circular_padding(pipe.unet, pipe.vae):
            import torch
            from PIL import Image

            source = tiles[0].resize((512, 512), Image.Resampling.LANCZOS)
            old = pipe(
                prompt=PROMPT,
                image=source,
                strength=0.25,
                num_inference_steps=8,
                generator=torch.Generator("cpu").manual_seed(5),
            ).images[0]
    finally:
        pipe.vae.disable_tiling()
    print(f"  upscale as before the fix (tiles wrapped on themselves): {seam_ratio(old):.2f}")
    seams_over_seeds(model)


def seams_over_seeds(model: Any, seeds: int = 16) -> None:
    """One image's seam ratio varies by ±15% with its noise: the mean over many seeds (at the
    latent grid's phase, 8 pixels) tells a seamless upscale (≈1) from a plain one."""
    from engine.operations import render
    from engine.request import GenerationRequest, Operation, Strength, WeightedText
    from engine.tiling import seam_ratio

    prompt = (WeightedText(PROMPT),)
    for operation, strength in ((Operation.UPSCALE, Strength.SUBTLE),
                                (Operation.VARIATION, Strength.SUBTLE)):  # fmt: skip
        means = {}
        for tile in (True, False):
            ratios = []
            for seed in range(seeds):
                request = GenerationRequest(prompt=prompt, seeds=(seed,), count=1, tile=tile)
                source = render(model, request).images[0]
                child = GenerationRequest(
                    operation=operation, prompt=prompt, source=source, strength=strength,
                    seeds=(seed + 100,), count=1, tile=tile,
                )  # fmt: skip
                ratios.append(seam_ratio(render(model, child).images[0], period=8))
            means[tile] = (sum(ratios) / seeds, max(ratios))
        (tiled, tiled_max), (plain, plain_max) = means[True], means[False]
        print(
            f"  {operation} {strength}, {seeds} seeds, seam ratio at the latent phase: "
            f"tiled mean {tiled:.3f} (max {tiled_max:.2f}), plain mean {plain:.3f} "
            f"(max {plain_max:.2f})"
        )


def main() -> None:
    cli = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    cli.add_argument(
        "--model", default="builtin:tiny", choices=("builtin:tiny", "builtin:tiny-sdxl")
    )
    args = cli.parse_args()
    import torch

    from engine.models import load_model

    torch.set_grad_enabled(False)
    aspect_table()
    cache = Path(tempfile.gettempdir()) / "mjbot-bench-models"
    model = load_model(args.model, device="cpu", dtype=torch.float32, cache_dir=cache)
    print(f"model {args.model}, {model.base_steps} steps")
    chaos_curve(model)
    stylize_curves(model)
    style_weight_curve(model)
    seams(model)


if __name__ == "__main__":
    main()
