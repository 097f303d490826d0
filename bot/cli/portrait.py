"""``mjbot portrait train`` and ``mjbot portrait imagine``: FaceChain-style portraits offline.

``train PHOTO... --name N`` prints one verdict line per photo (kept, or why not), then — with
at least three kept — learns the face as a LoRA on the configured model and keeps it in
``MJ_DATA_DIR/portraits/N``. ``imagine N "prompt"`` renders candidates with that LoRA, ranks
them by likeness to the person's most typical photo (candidates without exactly one clear face
are dropped) and writes the best four as a 2×2 grid, like ``mjbot imagine``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.cli.imagine import ProgressBar
from bot.cli.inputs import InputError, read_image
from bot.config import DEFAULT_MODEL
from bot.fetch import FetchLimits

__all__ = ["MIN_PHOTOS", "run_portrait"]

MIN_PHOTOS = 3
EXIT_ENGINE_ERROR = 1
EXIT_INPUT_ERROR = 2


def run_portrait(args: argparse.Namespace) -> int:
    from bot.cli.quiet import quiet_third_party

    quiet_third_party()
    try:
        if args.action == "train":
            return asyncio.run(_train(args))
        return asyncio.run(_imagine(args))
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR


LOCAL_OWNER = 0
"""The owner of the portraits made offline (the bot's are under each user's id)."""


def _portraits() -> Path:
    return Path(os.environ.get("MJ_DATA_DIR", "data")) / "portraits"


def _root() -> Path:
    return _portraits() / str(LOCAL_OWNER)


def _model_source() -> str:
    return os.environ.get("MJ_MODEL") or DEFAULT_MODEL


async def _load(device: str) -> Any:
    from engine.models import load_model, resolve_device, resolve_dtype

    source = _model_source()
    place = resolve_device(device)
    cache = Path(os.environ.get("MJ_DATA_DIR", "data")) / "models"
    model = await asyncio.to_thread(
        load_model, source, device=place, dtype=resolve_dtype("auto", place), cache_dir=cache
    )
    if model.closed_vocabulary:
        raise InputError(f"{source} draws only shapes: set MJ_MODEL to a model that draws people")
    return model


async def _train(args: argparse.Namespace) -> int:
    from PIL import Image

    from engine.errors import EngineError
    from engine.portrait import default_faces, prepare_photo
    from engine.portrait.library import check_name, save_portrait, token_for
    from engine.portrait.training import train_face_lora

    try:
        name = check_name(args.name)
    except EngineError as error:
        raise InputError(str(error)) from None
    faces = default_faces()
    kept, crops, hashes = [], [], []
    for given in args.photos:
        data = await read_image(given, given, FetchLimits())
        image = Image.open(io.BytesIO(data)).convert("RGB")
        prepared = await asyncio.to_thread(prepare_photo, image, faces)
        print(f"{given}: {prepared.reason}")
        if prepared.crop is not None:
            kept.append(prepared)
            crops.append(prepared.crop)
            hashes.append(hashlib.sha256(data).hexdigest())
    if len(kept) < MIN_PHOTOS:
        raise InputError(f"{_photos(len(kept))} kept; at least {MIN_PHOTOS} are needed")
    model = await _load(args.device)
    bar = ProgressBar()
    started = time.perf_counter()
    partial = _root() / f".{name}.safetensors"
    try:
        report = await asyncio.to_thread(
            train_face_lora,
            model,
            crops,
            token_for(name),
            partial,
            steps=args.steps,
            on_step=lambda step, total, loss: bar.draw(100 * step // total),
        )
    except EngineError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return EXIT_ENGINE_ERROR
    sys.stderr.write("\n")
    portrait = save_portrait(
        _root(), name, report.path, kept, hashes, base_model=_model_source(), steps=report.steps
    )
    print(
        f"portrait {name}: {report.steps} steps on {_photos(len(kept))} "
        f"({time.perf_counter() - started:.1f}s), kept in {portrait.folder}"
    )
    return 0


async def _imagine(args: argparse.Namespace) -> int:
    from bot.jobs.portraits import portraits_spec
    from engine.errors import EngineError
    from engine.grid import compose_grid, encode_png
    from engine.loras import LoraLibrary
    from engine.portrait import default_faces
    from engine.portrait.imagine import run_portraits
    from engine.portrait.library import load_portrait
    from engine.portrait.styles import find_style, load_styles
    from parser import PromptError, parse

    try:
        portrait = load_portrait(_root(), args.name)
        styles = load_styles(_lora_dir())
        style = find_style(styles, args.style) if args.style else None
    except EngineError as error:
        raise InputError(str(error)) from None
    if not 4 <= args.candidates <= 16:
        raise InputError(f"candidates must be 4–16 (got {args.candidates})")
    try:
        [prompt] = parse(args.prompt, max_permutations=1)
    except PromptError as error:
        raise InputError(f"prompt: {error.msg}") from None
    if args.seed is not None:
        prompt = replace(prompt, params=replace(prompt.params, seed=args.seed))
    spec = portraits_spec(
        prompt, LOCAL_OWNER, portrait.name, style=style, candidates=args.candidates
    )
    model = await _load(args.device)
    bar = ProgressBar()
    library = LoraLibrary(_lora_dir(), _portraits())
    try:
        result = await asyncio.to_thread(
            run_portraits,
            model,
            spec.request(portraits=_portraits()),
            default_faces(),
            library,
            on_progress=bar.report,
        )
    except EngineError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return EXIT_ENGINE_ERROR
    sys.stderr.write("\n")
    grid = compose_grid(list(result.images))
    out = args.out or Path(f"{portrait.name}-portrait.png")
    await asyncio.to_thread(out.write_bytes, await asyncio.to_thread(encode_png, grid))
    details = result.parameters.portrait
    cells = ", ".join(
        f"seed {cell['seed']}: "
        + (
            f"similarity {cell['similarity']:.2f}"
            if cell["similarity"] is not None
            else cell["dropped"]
        )
        for cell in details["cells"]
    )
    kept, total = details["with_one_face"], details["candidates"]
    print(f"{out}  {kept} of {total} candidates with one clear face  {cells}")
    return 0


def _lora_dir() -> Path:
    configured = os.environ.get("MJ_LORA_DIR")
    return Path(configured) if configured else Path(os.environ.get("MJ_DATA_DIR", "data")) / "loras"


def _photos(count: int) -> str:
    return f"{count} photo" if count == 1 else f"{count} photos"
