"""``mjbot retexture`` and ``mjbot background``: image-to-image that keeps structure, offline.

``retexture IMAGE PROMPT`` keeps the image's structure (edges, depth or line art) and takes the
look from the prompt (our prompt language); ``background IMAGE PROMPT`` keeps the subject
(found automatically, or ``--mask``: white = subject) and repaints the rest. Each writes the
2×2 grid (cells at the image's size) like ``mjbot imagine``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.imagine import ProgressBar
from bot.cli.inputs import InputError, is_link, read_image
from bot.fetch import FetchLimits, decode_image

if TYPE_CHECKING:
    from PIL import Image

    from engine.request import GenerationRequest

__all__ = ["STRENGTH_RANGE", "run_structure"]

EXIT_ENGINE_ERROR = 1
EXIT_INPUT_ERROR = 2
STRENGTH_RANGE = (0, 100)


def run_structure(args: argparse.Namespace) -> int:
    try:
        _check_arguments(args)
        return asyncio.run(_run(args))
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR


def _check_arguments(args: argparse.Namespace) -> None:
    strength = getattr(args, "strength", None)
    low, high = STRENGTH_RANGE
    if strength is not None and not low <= strength <= high:
        raise InputError(f"strength must be {low}–{high} (got {strength}).")
    given = [("image", args.image)]
    if getattr(args, "mask", None):
        given.append(("mask", args.mask))
    for name, path in given:
        if not is_link(path) and not Path(path).is_file():
            raise InputError(f"{name}: no such file: {path}")


async def _run(args: argparse.Namespace) -> int:
    limits = FetchLimits()
    image = await asyncio.to_thread(decode_image, await read_image("image", args.image, limits))
    mask = None
    if getattr(args, "mask", None):
        mask = await asyncio.to_thread(decode_image, await read_image("mask", args.mask, limits))
        if mask.size != image.size:
            raise InputError(
                f"mask: {mask.width}×{mask.height}, but the image is {image.width}×"
                f"{image.height}; the mask must be the image's size (white = subject)"
            )
    request = _request(args, image.convert("RGB"), mask)
    return await _render(args, request, image)


def _request(
    args: argparse.Namespace, image: Image.Image, mask: Image.Image | None
) -> GenerationRequest:
    from bot.jobs.spec import Background, JobSpec, Retexture, SourceImage
    from engine.request import StructureKind
    from parser import PromptError, parse

    try:
        [prompt] = parse(args.prompt, max_permutations=1)
    except PromptError as error:
        raise InputError(f"prompt: {error.msg}") from None
    if args.seed is not None:
        prompt = replace(prompt, params=replace(prompt.params, seed=args.seed))
    spec = JobSpec.from_prompt(prompt)
    given = SourceImage("offline", 0)  # the image is passed in directly
    if args.command == "retexture":
        work = Retexture(given, StructureKind(args.structure), args.strength)
        return replace(spec, work=work).request(image)
    return replace(spec, work=Background(given)).request(
        image, mask.convert("L") if mask is not None else None
    )


async def _render(args: argparse.Namespace, request: GenerationRequest, image: Image.Image) -> int:
    from bot.cli.quiet import quiet_third_party

    await asyncio.to_thread(quiet_third_party)
    from bot.config import DEFAULT_MODEL
    from engine import Engine, EngineConfig, EngineError
    from engine.grid import compose_grid, encode_png

    data_dir = Path(os.environ.get("MJ_DATA_DIR", "data"))
    model = os.environ.get("MJ_MODEL") or DEFAULT_MODEL
    controlnets = json.loads(os.environ.get("MJ_CONTROLNETS") or "{}")
    engine = Engine(
        EngineConfig(
            models={"default": model},
            devices=(args.device,),
            cache_dir=data_dir / "models",
            steps=args.steps,
            controlnets=controlnets,
            depth_model=os.environ.get("MJ_DEPTH_MODEL") or None,
            segmenter=os.environ.get("MJ_SEGMENTER") or "grabcut",
        )
    )
    out = args.out or Path(f"{Path(args.image).stem or 'image'}-{args.command}.png")
    started = time.perf_counter()
    try:
        await engine.start(warm_up=False)
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
    details = result.parameters.structure
    how = _how(args.command, details)
    seeds = " ".join(str(s) for s in result.seeds)
    print(
        f"{out}  {grid.width}×{grid.height}  seeds {seeds}  {how}  "
        f"{time.perf_counter() - started:.1f}s  (image {image.width}×{image.height})"
    )
    return 0


def _how(command: str, details: Mapping[str, Any]) -> str:
    if command == "background":
        return f"subject {float(details.get('subject_share', 0)):.0%} of the image kept"
    if details.get("controlnet"):
        return f"{details.get('structure')} via ControlNet {details.get('controlnet')}"
    return f"{details.get('structure')} kept by the fallback (no ControlNet configured)"
