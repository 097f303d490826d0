"""``mjbot imagine``: render grids from the command line through the real engine."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.parse import describe_error
from bot.cli.quiet import quiet_third_party
from bot.config import DEFAULT_MODEL, describe_builtin
from bot.jobs.references import resolve_random_styles, wanted_references
from bot.jobs.spec import JobSpec, version_key
from parser import Prompt, PromptError, parse

if TYPE_CHECKING:
    from engine.request import GenerationRequest, Progress

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


async def _render_all(args: argparse.Namespace, prompts: list[Prompt]) -> int:
    await asyncio.to_thread(quiet_third_party)  # imports torch: seconds, off the loop
    from bot.errors import UserError
    from engine import Engine, EngineConfig, EngineError
    from engine.grid import compose_grid, encode_png

    model: str = args.model or os.environ.get("MJ_MODEL") or DEFAULT_MODEL
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
    builtin = describe_builtin(model)
    if builtin is not None:
        print(f"note: {builtin} (or pass --model)", file=sys.stderr)
    try:
        print(f"loading {model}…", file=sys.stderr)
        await engine.start()
        for index, prompt in enumerate(prompts, 1):
            out = _numbered(args.out or _default_out(prompts[0]), index, len(prompts))
            started = time.perf_counter()
            request = await _request(prompt, data_dir, args.seed)
            bar = ProgressBar()
            handle = engine.submit(request, on_progress=bar.report)
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
    except UserError as error:
        print(f"\nerror: {error.message}", file=sys.stderr)
        return EXIT_ENGINE_ERROR
    except EngineError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return EXIT_ENGINE_ERROR
    finally:
        await engine.close()
    return 0


async def _request(prompt: Prompt, data_dir: Path, seed: int | None) -> GenerationRequest:
    """The job's request, built as the bot builds it: the prompt's image URLs are fetched with
    the bot's safe fetcher (and kept in the data folder's image store), style codes drawn."""
    from bot.fetch import Fetcher, FetchLimits, decode_image
    from bot.jobs.references import ReferenceFetcher, engine_references
    from db import ImageStore

    spec = JobSpec.from_prompt(prompt, references=wanted_references(prompt))
    store = ImageStore(data_dir)
    if spec.pending_references:
        async with Fetcher(FetchLimits()) as fetcher:
            for reference in spec.pending_references:
                print(f"fetching {reference.url}…", file=sys.stderr)
            spec = await ReferenceFetcher(fetcher, store, _no_cdn).resolve(spec)

    def read(path: str, sha256: str) -> Any:
        return decode_image(store.read(path, sha256))

    references = await asyncio.to_thread(engine_references, spec, read)
    return spec.request(references=references, seed=seed)


async def _no_cdn(url: str) -> bytes:
    raise RuntimeError("the command line has no Discord uploads")  # pragma: no cover


def _default_out(prompt: Prompt) -> Path:
    """``a-red-circle-on-the-left.png`` in the current folder: the prompt's first words."""
    words = re.findall(r"[a-z0-9]+", prompt.text.lower())[:8]
    return Path(("-".join(words) or "grid") + ".png")


def _numbered(path: Path, index: int, total: int) -> Path:
    if total == 1:
        return path
    return path.with_name(f"{path.stem}-{index}{path.suffix or '.png'}")


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


class ProgressBar:
    """``[#####     ] 50%`` on stderr, redrawn only when the percentage changes (the engine
    reports the last step and then the finished job: both are 100%)."""

    def __init__(self) -> None:
        self.shown: int | None = None

    def report(self, progress: Progress) -> None:
        self.draw(progress.percent)

    def draw(self, percent: int) -> None:
        if percent == self.shown:
            return
        self.shown = percent
        filled = BAR_WIDTH * percent // 100
        sys.stderr.write(f"\r[{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {percent:3d}%")
        sys.stderr.flush()
