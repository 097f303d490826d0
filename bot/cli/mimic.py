"""``mjbot mimic``: repaint a region of an image imitating a reference (MimicBrush), offline,
through the engine's operation; writes the 2×2 grid of results like ``mjbot imagine``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.imagine import ProgressBar
from bot.cli.inputs import InputError, is_link, read_image
from bot.fetch import FetchLimits, decode_image

if TYPE_CHECKING:
    from PIL import Image

    from engine.request import GenerationRequest

__all__ = ["run_mimic"]

EXIT_ENGINE_ERROR = 1
EXIT_INPUT_ERROR = 2
STEPS_RANGE = (1, 1000)


def run_mimic(args: argparse.Namespace) -> int:
    try:
        _check_arguments(args)
        return asyncio.run(_run(args))
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR


def _check_arguments(args: argparse.Namespace) -> None:
    low, high = STEPS_RANGE
    if args.steps is not None and not low <= args.steps <= high:
        raise InputError(f"steps must be {low}–{high} (got {args.steps}).")
    for name, given in (
        ("source", args.source),
        ("mask", args.mask),
        ("reference", args.reference),
    ):
        if not is_link(given) and not Path(given).is_file():
            raise InputError(f"{name}: no such file: {given}")


def _inputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    return [("source", args.source), ("mask", args.mask), ("reference", args.reference)]


async def _run(args: argparse.Namespace) -> int:
    # 1. Read and check the three images (links through the bot's safe fetcher).
    limits = FetchLimits()
    data = [
        await read_image(name, given, limits)
        for name, given in (
            ("source", args.source),
            ("mask", args.mask),
            ("reference", args.reference),
        )
    ]
    source, mask, reference = await asyncio.gather(
        *(asyncio.to_thread(decode_image, item) for item in data)
    )
    # 2. The request; what the engine would refuse is refused here, before any model loads.
    request = _request(args, source, mask, reference)
    # 3. Render (imports torch: seconds, off the loop) and write the grid.
    return await _render(args, request, source)


def _request(
    args: argparse.Namespace, source: Image.Image, mask: Image.Image, reference: Image.Image
) -> GenerationRequest:
    from engine.errors import InvalidRequestError
    from engine.mimic.operation import check_mimic_request
    from engine.request import GenerationRequest, MimicSpec, Operation

    if mask.size != source.size:
        raise InputError(
            f"mask: {mask.width}×{mask.height}, but the source is {source.width}×{source.height}"
            "; the mask must be the source's size (white = repaint)"
        )
    request = GenerationRequest(
        operation=Operation.MIMIC,
        source=source.convert("RGB"),
        mask=mask.convert("L"),
        mimic=MimicSpec(reference.convert("RGB"), keep_shape=args.keep_shape),
        seed=args.seed,
        steps=args.steps,
    )
    try:
        check_mimic_request(request)
    except InvalidRequestError as error:
        raise InputError(str(error)) from None
    return request


async def _render(args: argparse.Namespace, request: GenerationRequest, source: Image.Image) -> int:
    from bot.cli.quiet import quiet_third_party

    await asyncio.to_thread(quiet_third_party)
    from bot.config import DEFAULT_MODEL
    from engine import Engine, EngineConfig, EngineError
    from engine.grid import compose_grid, encode_png
    from engine.mimic.operation import describe_mimic

    weights = args.mimicbrush if args.mimicbrush is not None else os.environ.get("MJ_MIMICBRUSH")
    print(f"note: {describe_mimic(weights or None)}", file=sys.stderr)
    data_dir = Path(os.environ.get("MJ_DATA_DIR", "data"))
    # Without MimicBrush weights the fallback renders on the configured diffusion model.
    model = os.environ.get("MJ_MODEL") or DEFAULT_MODEL
    engine = Engine(
        EngineConfig(
            models={"default": model},
            devices=(args.device,),
            cache_dir=data_dir / "models",
            mimicbrush=weights or None,
        )
    )
    out = args.out or Path(f"{Path(args.source).stem or 'image'}-mimic.png")
    started = time.perf_counter()
    try:
        await engine.start(warm_up=False)  # loaded by the job: MimicBrush or the fallback model
        bar = ProgressBar()
        result = await engine.submit(request, on_progress=bar.report).future
        sys.stderr.write("\n")
        grid = compose_grid(list(result.images))
        await asyncio.to_thread(out.write_bytes, await asyncio.to_thread(encode_png, grid))
    except EngineError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return EXIT_ENGINE_ERROR
    finally:
        await engine.close()
    seeds = " ".join(str(s) for s in result.seeds)
    print(
        f"{out}  {grid.width}×{grid.height}  seeds {seeds}  "
        f"{time.perf_counter() - started:.1f}s  (source {source.width}×{source.height})"
    )
    return 0
