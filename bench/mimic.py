"""MimicBrush benchmark: seconds per 2×2 result (4 seeds) and peak memory.

CPU (default): the built-in tiny model (``builtin:mimic``) at its 64² working side.
``--device cuda``: the full-size architectures (two SD 1.5 U-Nets, the SD VAE, CLIP ViT-H/14,
Depth Anything ViT-B/14) with random weights at 512², in float16 — no download.
Peak memory is the process's max RSS on CPU and ``torch.cuda.max_memory_allocated`` on CUDA.
``--fallback MODEL``: the fallback without MimicBrush weights (reference-only attention and
IP-Adapter Plus on a diffusion model, e.g. ``builtin:tiny``), timed against a plain Vary
(Region) of the same image, mask and steps: the reference's cost as a ratio.

Run: .venv/bin/python bench/mimic.py [--device cuda] [--steps N] [--repeats N] [--keep-shape]
     [--fallback builtin:tiny]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build(device: str) -> Any:
    import torch

    from engine.mimic import builtin_mimic_model, full_size_model

    if device == "cpu":
        return builtin_mimic_model()
    return full_size_model(device, torch.float16)


def inputs(side: int) -> tuple[Any, Any, Any]:
    from PIL import Image

    source = Image.effect_noise((side, side * 3 // 4), 40).convert("RGB")
    mask = Image.new("L", source.size, 0)
    mask.paste(255, (side // 4, side // 8, side * 3 // 4, side // 2))
    reference = Image.effect_noise((side // 2, side // 2), 80).convert("RGB")
    return source, mask, reference


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_mib(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return float(torch.cuda.max_memory_allocated()) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep-shape", action="store_true")
    parser.add_argument("--fallback", metavar="MODEL", help="time the fallback on MODEL")
    args = parser.parse_args()
    if args.fallback:
        fallback(args)
        return

    from engine.mimic import mimic

    started = time.perf_counter()
    model = build(args.device)
    sync(args.device)
    print(f"built {model.source} on {args.device} in {time.perf_counter() - started:.1f} s")
    source, mask, reference = inputs(model.side)
    run = {"keep_shape": args.keep_shape, "seeds": (0, 1, 2, 3), "steps": args.steps}
    mimic(model, source, mask, reference, **{**run, "steps": 1})  # warm-up
    timings = []
    for _ in range(args.repeats):
        sync(args.device)
        started = time.perf_counter()
        mimic(model, source, mask, reference, **run)  # type: ignore[arg-type]
        sync(args.device)
        timings.append(time.perf_counter() - started)
    best = min(timings)
    print(
        f"2×2 at {model.side}², {args.steps} steps: best {best:.2f} s "
        f"({best / args.steps * 1000:.1f} ms/step), peak {peak_mib(args.device):.0f} MiB"
    )


def fallback(args: argparse.Namespace) -> None:
    import tempfile
    from dataclasses import replace

    import torch

    from engine.mimic.fallback import run_fallback
    from engine.mimic.operation import check_mimic_request
    from engine.models import load_model
    from engine.operations import render
    from engine.request import GenerationRequest, MimicSpec, Operation, Strength

    cache = Path(tempfile.gettempdir()) / "mjbot-bench-models"
    model = load_model(args.fallback, device=args.device, dtype=torch.float32, cache_dir=cache)
    source, mask, reference = inputs(model.native)
    request = GenerationRequest(
        operation=Operation.MIMIC,
        source=source,
        mask=mask,
        mimic=MimicSpec(reference, keep_shape=args.keep_shape),
        seeds=(0, 1, 2, 3),
        steps=args.steps,
    )
    _, region = check_mimic_request(request)
    plain = replace(
        request,
        operation=Operation.REGION,
        mimic=None,
        strength=Strength.SUBTLE if args.keep_shape else Strength.STRONG,
    )
    run_fallback(model, replace(request, steps=1), region)  # warm-up
    render(model, replace(plain, steps=1))
    edits, regions = [], []
    for _ in range(args.repeats):
        sync(args.device)
        started = time.perf_counter()
        _, writes = run_fallback(model, request, region)
        sync(args.device)
        edits.append(time.perf_counter() - started)
        started = time.perf_counter()
        render(model, plain)
        sync(args.device)
        regions.append(time.perf_counter() - started)
    print(
        f"fallback on {args.fallback}, 2×2 at {source.width}×{source.height}, {args.steps} "
        f"steps ({writes} reference passes): best {min(edits):.2f} s; plain Vary (Region) "
        f"{min(regions):.2f} s; ratio {min(edits) / min(regions):.2f}; "
        f"peak {peak_mib(args.device):.0f} MiB"
    )


if __name__ == "__main__":
    main()
