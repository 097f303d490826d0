"""Retexture benchmark: seconds per 2×2 grid with a ControlNet against a plain grid on the same
model (the ControlNet's overhead), and how well the structure is kept (edge F1 against the
source) at strengths 0, 50 and 100 against the plain grid — measured in one run.

Default: ``builtin:tiny`` with the tiny built-in ControlNet on CPU, and ``builtin:shapes`` with
its trained edges ControlNet (if shipped). ``--arch sd15|sdxl --device cuda`` builds the
full-size architecture and a full-size ControlNet with random weights (timing only: random
weights keep no structure).

Run: .venv/bin/python bench/retexture.py [--arch tiny|sd15|sdxl] [--device cpu] [--steps N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT = "a stained glass window, vivid colours"


def drawing(size: int) -> Any:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    s = size
    draw.rectangle((s * 0.15, s * 0.45, s * 0.55, s * 0.9), outline="black", width=max(2, s // 64))
    draw.polygon([(s * 0.1, s * 0.45), (s * 0.35, s * 0.15), (s * 0.6, s * 0.45)], outline="black")
    draw.ellipse((s * 0.68, s * 0.1, s * 0.9, s * 0.38), outline="black", width=max(2, s // 64))
    return image


def timed(function: Any, device: str) -> tuple[Any, float]:
    import torch

    started = time.perf_counter()
    result = function()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return result, time.perf_counter() - started


def measure(model: Any, registry: Any, name: str, device: str, steps: int | None) -> None:
    import numpy as np

    from engine.operations import render
    from engine.request import GenerationRequest, Operation, RetextureSpec, WeightedText
    from engine.structure.fidelity import edge_f1
    from engine.structure.operation import run_retexture

    source = drawing(model.native)
    prompt = (WeightedText(PROMPT),)
    plain_request = GenerationRequest(prompt=prompt, seed=1, steps=steps)
    render(model, plain_request)  # warm-up
    plain, plain_s = timed(lambda: render(model, plain_request), device)

    def retexture(strength: int) -> Any:
        request = GenerationRequest(
            operation=Operation.RETEXTURE, prompt=prompt, seed=1, steps=steps, source=source,
            retexture=RetextureSpec(strength=strength),
        )  # fmt: skip
        return run_retexture(model, request, registry)

    retexture(50)  # warm-up (loads the ControlNet)
    made, retexture_s = timed(lambda: retexture(50), device)
    plain_f1 = np.mean([edge_f1(image, source) for image in plain.images])
    scores = []
    for strength in (0, 50, 100):
        result = made if strength == 50 else retexture(strength)
        scores.append(np.mean([edge_f1(image, source) for image in result.images]))
    how = made.parameters.structure.get("controlnet") or "no ControlNet (img2img fallback)"
    print(
        f"{name}: plain grid {plain_s:.2f} s, retexture grid {retexture_s:.2f} s "
        f"(×{retexture_s / plain_s:.2f}, {how}); edge F1 plain {plain_f1:.3f}, "
        f"retexture strength 0/50/100: {scores[0]:.3f} / {scores[1]:.3f} / {scores[2]:.3f} "
        f"(×{scores[2] / max(plain_f1, 1e-6):.1f} at 100)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("tiny", "sd15", "sdxl"), default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args()

    import tempfile

    from engine.controlnets import BUILTIN_TINY, ControlNetRegistry
    from engine.models import SHAPES_SOURCE, load_model, prepare_model, resolve_dtype

    dtype = resolve_dtype("auto", args.device)
    cache = Path(tempfile.gettempdir()) / "mjbot-bench-models"
    if args.arch == "tiny":
        tiny = load_model("builtin:tiny", device=args.device, dtype=dtype, cache_dir=cache)
        measure(
            tiny,
            ControlNetRegistry({"edges": BUILTIN_TINY}),
            "builtin:tiny + tiny ControlNet",
            args.device,
            args.steps,
        )
        measure(tiny, ControlNetRegistry({}), "builtin:tiny, fallback", args.device, args.steps)
        shapes = load_model(SHAPES_SOURCE, device=args.device, dtype=dtype, cache_dir=cache)
        registry = ControlNetRegistry({})
        if registry.source_for(shapes, "edges") is not None:
            measure(
                shapes, registry, "builtin:shapes + its edges ControlNet", args.device, args.steps
            )
        return
    from bench.engine import full_size_pipeline

    model = prepare_model(
        full_size_pipeline(args.arch, args.device, dtype), f"random:{args.arch}", device=args.device
    )
    measure(
        model,
        ControlNetRegistry({"edges": BUILTIN_TINY, "edges-xl": BUILTIN_TINY}),
        f"{args.arch} (random weights) + full-size ControlNet",
        args.device,
        args.steps,
    )


if __name__ == "__main__":
    main()
