"""Style transfer benchmark: seconds per optimiser step, ours against a plain Gatys loop.

Full-width VGG19 layout with random weights (no download). For each size, times
``engine.transfer.optimize.optimise`` (L-BFGS, one loss evaluation per step) and a
straightforward reference loop written here (the same layers, Grams and L-BFGS settings, no
scales, progress or cancellation), and prints the ratio (target ≤ 1.1×). Both timings cover
a whole optimisation (the two target forward passes included) divided by its steps, after a
one-step warm-up run.

Run: .venv/bin/python bench/transfer.py [--sizes 256 512] [--steps N] [--repeats N]
[--device cuda]
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


def images(side: int, device: str) -> tuple[Any, Any]:
    import torch

    generator = torch.Generator("cpu").manual_seed(0)
    content = torch.rand((1, 3, side, side), generator=generator).contiguous().to(device)
    style = torch.rand((1, 3, side, side), generator=generator).contiguous().to(device)
    return content, style


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def ours(backbone: Any, content: Any, style: Any, steps: int) -> float:
    """Seconds per step of the engine's loop (after a one-step warm-up)."""
    from engine.request import TransferOptimizer
    from engine.transfer.optimize import Stage, optimise

    side = content.shape[-1]
    args = {"ratio": 30.0, "optimizer": TransferOptimizer.LBFGS, "seed": 0}
    optimise(backbone, content, style, (Stage((side, side), 1),), **args)  # type: ignore[arg-type]
    sync(backbone.device)
    started = time.perf_counter()
    optimise(backbone, content, style, (Stage((side, side), steps),), **args)  # type: ignore[arg-type]
    sync(backbone.device)
    return (time.perf_counter() - started) / steps


def reference(network: Any, content: Any, style: Any, steps: int) -> float:
    """A plain Gatys loop: VGG features after the ReLUs of 0, 5, 10, 19, 28 (style) and 21
    (content), Grams over C·H·W, L-BFGS one evaluation per step, clamp after each."""
    import torch

    mean = torch.tensor([0.485, 0.456, 0.406], device=content.device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=content.device).view(1, 3, 1, 1)
    wanted = {1, 6, 11, 20, 22, 29}

    def features(x: Any) -> dict[int, Any]:
        x = (x - mean) / std
        out = {}
        for index, layer in enumerate(network):
            x = layer(x)
            if index in wanted:
                out[index] = x
            if index == 29:
                break
        return out

    def gram(f: Any) -> Any:
        _, c, h, w = f.shape
        f = f.reshape(c, h * w)
        return f @ f.t() / (c * h * w)

    def run(count: int) -> None:
        with torch.no_grad():
            target = features(content)[22]
            grams = {i: gram(f) for i, f in features(style).items() if i != 22}
        x = content.clone().contiguous().requires_grad_(True)
        # zero tolerances as in ours: every step does its update, none returns early
        optimiser = torch.optim.LBFGS(
            [x], max_iter=1, history_size=20, tolerance_grad=0.0, tolerance_change=0.0
        )

        def closure() -> Any:
            optimiser.zero_grad()
            f = features(x)
            loss = torch.nn.functional.mse_loss(f[22], target)
            for i, g in grams.items():
                loss = loss + 30.0 * torch.nn.functional.mse_loss(gram(f[i]), g)
            loss.backward()
            return loss

        for _ in range(count):
            optimiser.step(closure)
            with torch.no_grad():
                x.clamp_(0, 1)

    run(1)
    sync(str(content.device))
    started = time.perf_counter()
    run(steps)
    sync(str(content.device))
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs; best kept")
    args = parser.parse_args()
    import torch

    from engine.transfer.backbone import random_backbone

    backbone = random_backbone(1, device=args.device, name="random-vgg19-full")
    print(f"device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'size':>6} {'ours s/step':>12} {'reference':>10} {'ratio':>6}")
    for side in args.sizes:
        content, style = images(side, args.device)
        # Alternating runs, best of each: other load on the machine hits both alike.
        mine, plain = float("inf"), float("inf")
        for _ in range(args.repeats):
            mine = min(mine, ours(backbone, content, style, args.steps))
            plain = min(plain, reference(backbone.network, content, style, args.steps))
        print(f"{side:>5}² {mine:>12.3f} {plain:>10.3f} {mine / plain:>6.2f}")


if __name__ == "__main__":
    main()
