"""``mjbot transfer``: neural style transfer of one image toward another, offline, through the
engine's operation (no diffusion model is loaded)."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.imagine import ProgressBar
from bot.cli.inputs import InputError, is_link, read_image
from bot.errors import UserError
from bot.fetch import FetchLimits, decode_image
from bot.jobs.spec import ReferenceSpec, Role
from bot.jobs.transfer import TransferOptions, transfer_spec

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["run_transfer"]

EXIT_ENGINE_ERROR = 1
EXIT_INPUT_ERROR = 2
STEPS_RANGE = (1, 10_000)


def run_transfer(args: argparse.Namespace) -> int:
    try:
        options = _options(args)
        return asyncio.run(_run(args, options))
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR


def _options(args: argparse.Namespace) -> TransferOptions:
    try:
        options = TransferOptions(args.strength, args.size, args.preserve_colors).check()
    except UserError as error:
        raise InputError(error.message) from None
    low, high = STEPS_RANGE
    if args.steps is not None and not low <= args.steps <= high:
        raise InputError(f"steps must be {low}–{high} (got {args.steps}).")
    for name in ("content", "style"):
        given = getattr(args, name)
        if not is_link(given) and not Path(given).is_file():
            raise InputError(f"{name}: no such file: {given}")
    return options


async def _run(args: argparse.Namespace, options: TransferOptions) -> int:
    # 1. Read and check both images (links through the bot's safe fetcher).
    limits = FetchLimits()
    content_data = await read_image("content", args.content, limits)
    style_data = await read_image("style", args.style, limits)
    if hashlib.sha256(content_data).digest() == hashlib.sha256(style_data).digest():
        raise InputError("content and style are the same picture; give two different images.")
    content, style = await asyncio.gather(
        asyncio.to_thread(decode_image, content_data), asyncio.to_thread(decode_image, style_data)
    )
    # 2. The request, built as the bot builds it.
    spec = transfer_spec(
        ReferenceSpec(Role.IMAGE, url=args.content),
        ReferenceSpec(Role.STYLE, url=args.style),
        options,
        steps=args.steps,
        seed=args.seed,
    )
    request = spec.request(content, style=style, seed=args.seed)
    # 3. Render (imports torch: seconds, off the loop) and write the image.
    return await _render(args, request, content)


async def _render(args: argparse.Namespace, request: object, content: Image.Image) -> int:
    from bot.cli.quiet import quiet_third_party

    await asyncio.to_thread(quiet_third_party)
    from engine import Engine, EngineConfig, EngineError
    from engine.grid import encode_png
    from engine.request import GenerationRequest

    assert isinstance(request, GenerationRequest)  # noqa: S101 - built above
    vgg19 = args.vgg19 if args.vgg19 is not None else os.environ.get("MJ_VGG19", "")
    data_dir = Path(os.environ.get("MJ_DATA_DIR", "data"))
    engine = Engine(
        EngineConfig(devices=(args.device,), cache_dir=data_dir / "models", vgg19=vgg19 or None)
    )
    started = time.perf_counter()
    try:
        await engine.start(warm_up=False)  # no diffusion model: the operation loads VGG19
        bar = ProgressBar()
        result = await engine.submit(request, on_progress=bar.report).future
        sys.stderr.write("\n")
        [image] = result.images
        data = await asyncio.to_thread(encode_png, image)
        await asyncio.to_thread(args.out.write_bytes, data)
    except EngineError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return EXIT_ENGINE_ERROR
    finally:
        await engine.close()
    print(
        f"{args.out}  {image.width}×{image.height}  seed {result.seeds[0]}  "
        f"{time.perf_counter() - started:.1f}s  (content {content.width}×{content.height})"
    )
    return 0
