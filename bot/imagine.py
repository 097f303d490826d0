"""``mjbot imagine``: render grids from the command line through the real engine."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli import describe_error
from bot.convert import request_from_prompt, version_key
from bot.references import resolve_random_styles, wanted_references
from parser import Prompt, PromptError, parse

if TYPE_CHECKING:
    from engine.request import Reference

__all__ = ["run_imagine"]

EXIT_ENGINE_ERROR = 1
EXIT_PROMPT_ERROR = 2
BAR_WIDTH = 30


def run_imagine(args: argparse.Namespace) -> int:
    try:
        prompts = parse(args.prompt)
    except PromptError as error:
        print(describe_error(error), file=sys.stderr)
        return EXIT_PROMPT_ERROR
    jobs = [resolve_random_styles(p) for p in prompts for _ in range(p.params.repeat or 1)]
    return asyncio.run(_render_all(args, jobs))


def quiet_third_party() -> None:
    """Hide the ML libraries' own progress bars and warnings (we draw our own progress)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    import diffusers.utils.logging as diffusers_logging
    import transformers.utils.logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()


async def _render_all(args: argparse.Namespace, prompts: list[Prompt]) -> int:
    await asyncio.to_thread(quiet_third_party)  # imports torch: seconds, off the loop
    from bot.fetch import FetchError
    from engine import Engine, EngineConfig, EngineError
    from engine.grid import compose_grid, encode_png

    model: str = args.model or os.environ.get("MJ_MODEL", "builtin:tiny")
    data_dir = Path(os.environ.get("MJ_DATA_DIR", "data"))
    config_dir = args.model_config or _env_path("MJ_MODEL_CONFIG")
    # The command line has one model: it answers every --v/--niji in the prompts.
    versions = {key for key in (version_key(p) for p in prompts) if key is not None}
    models = {"default": model, **dict.fromkeys(versions, model)}
    engine = Engine(
        EngineConfig(
            models=models,
            devices=(args.device,),
            cache_dir=data_dir / "models",
            single_file_config=config_dir,
        )
    )
    if model.startswith("builtin:"):
        print(
            "note: builtin models have random weights; images are noise "
            "(pass --model to use a real one)",
            file=sys.stderr,
        )
    try:
        print(f"loading {model}…", file=sys.stderr)
        await engine.start()
        for index, prompt in enumerate(prompts, 1):
            out = _numbered(args.out, index, len(prompts))
            started = time.perf_counter()
            request = request_from_prompt(prompt, seed=args.seed)
            references = await _references(prompt)
            handle = engine.submit(
                replace(request, references=references),
                on_progress=lambda p: _draw_bar(p.percent),
            )
            result = await handle.future
            grid = compose_grid(list(result.images))
            data = await asyncio.to_thread(encode_png, grid)
            await asyncio.to_thread(out.write_bytes, data)
            sys.stderr.write("\n")
            seeds = " ".join(str(s) for s in result.seeds)
            print(
                f"{out}  {grid.width}×{grid.height}  seeds {seeds}  "
                f"{time.perf_counter() - started:.1f}s  **{prompt.canonical}**"
            )
    except (EngineError, FetchError) as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return EXIT_ENGINE_ERROR
    finally:
        await engine.close()
    return 0


async def _references(prompt: Prompt) -> tuple[Reference, ...]:
    """Download the prompt's image URLs (with the bot's safe fetcher) and add style codes."""

    from bot.fetch import Fetcher, FetchLimits, decode_image
    from bot.jobspec import ROLES
    from engine.request import Reference

    wanted = wanted_references(prompt)
    if not wanted:
        return ()
    out = []
    async with Fetcher(FetchLimits()) as fetcher:
        for item in wanted:
            role = ROLES[item.role]
            if item.url is None:
                out.append(Reference(role, weight=item.weight, code=item.code))
                continue
            print(f"fetching {item.url}…", file=sys.stderr)
            fetched = await fetcher.fetch_image(item.url)
            image = await asyncio.to_thread(decode_image, fetched.data)
            out.append(Reference(role, image, item.weight))
    return tuple(out)


def _numbered(path: Path, index: int, total: int) -> Path:
    if total == 1:
        return path
    return path.with_name(f"{path.stem}-{index}{path.suffix or '.png'}")


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _draw_bar(percent: int) -> None:
    filled = BAR_WIDTH * percent // 100
    sys.stderr.write(f"\r[{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {percent:3d}%")
    sys.stderr.flush()
