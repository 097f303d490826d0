"""The ``mjbot`` command line. Subcommands import what they need when they run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from parser import PromptError, parse
from parser.prompt import Prompt

__all__ = ["main"]

EXIT_PROMPT_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    result: int = args.run(args)
    return result


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mjbot",
        description="A self-hosted Discord bot with Midjourney's workflow on open models.",
    )
    parser.set_defaults(command=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    parse_cmd = commands.add_parser(
        "parse",
        help="show how the bot understands a prompt",
        description="Show how the bot understands a prompt: image prompts, weighted text "
        "parts, parameters and the canonical echo. Exits 2 when the prompt has an error.",
    )
    parse_cmd.add_argument("prompt", help="the prompt, as typed after /imagine (quote it)")
    parse_cmd.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parse_cmd.add_argument("--suffix", default="", help="a /prefer suffix to apply")
    parse_cmd.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a /prefer option macro (repeatable)",
    )
    parse_cmd.add_argument(
        "--max-permutations",
        type=int,
        default=40,
        metavar="N",
        help="most prompts a {…} permutation may make (default 40)",
    )
    parse_cmd.set_defaults(command="parse", run=_run_parse)

    imagine_cmd = commands.add_parser(
        "imagine",
        help="render a 2×2 grid from the command line",
        description="Render a prompt's 2×2 grid with the engine, without Discord. A "
        "permutation or --repeat prompt writes one file per job (FILE-1.png, FILE-2.png…).",
    )
    imagine_cmd.add_argument("prompt", help="the prompt, as typed after /imagine (quote it)")
    imagine_cmd.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="where to write the grid (PNG)"
    )
    imagine_cmd.add_argument(
        "--model",
        default=None,
        metavar="SRC",
        help="model source: builtin:tiny, a diffusers folder, a "
        ".safetensors file or a Hub id (default: $MJ_MODEL or builtin:tiny)",
    )
    imagine_cmd.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the first image (overrides the prompt's --seed)",
    )
    imagine_cmd.add_argument("--device", default="auto", help="cuda, mps, cpu or auto")
    imagine_cmd.add_argument(
        "--model-config",
        type=Path,
        default=None,
        metavar="DIR",
        help="configs for a single-file checkpoint ($MJ_MODEL_CONFIG)",
    )
    imagine_cmd.set_defaults(command="imagine", run=_run_imagine)

    serve_cmd = commands.add_parser(
        "serve",
        help="run the Discord bot",
        description="Run the Discord bot. Settings come from the environment or .env "
        "(see .env.example); DISCORD_TOKEN is required.",
    )
    serve_cmd.set_defaults(command="serve", run=_run_serve)
    return parser


def _run_parse(args: argparse.Namespace) -> int:
    options = dict(item.partition("=")[::2] for item in args.option)
    try:
        prompts = parse(
            args.prompt, options=options, suffix=args.suffix, max_permutations=args.max_permutations
        )
    except PromptError as error:
        if args.json:
            print(json.dumps({"error": error.to_dict()}, ensure_ascii=False))
        else:
            print(describe_error(error), file=sys.stderr)
        return EXIT_PROMPT_ERROR
    if args.json:
        print(json.dumps({"prompts": [p.to_json() for p in prompts]}, ensure_ascii=False))
    else:
        print("\n\n".join(_describe(p, i, len(prompts)) for i, p in enumerate(prompts, 1)))
    return 0


def _run_serve(args: argparse.Namespace) -> int:
    from bot.serve import run_serve

    return run_serve()


def _run_imagine(args: argparse.Namespace) -> int:
    from bot.imagine import run_imagine

    return run_imagine(args)


def describe_error(error: PromptError) -> str:
    where = "Your suffix" if error.origin == "suffix" else "Your prompt"
    lines = [f"error: {error.msg}", f"{where}:", _indent(error.render())]
    if error.hint:
        lines.append(f"hint: {error.hint}")
    return "\n".join(lines)


def _describe(prompt: Prompt, index: int, total: int) -> str:
    title = f"Prompt {index} of {total}" if total > 1 else "Prompt"
    rows = [(f"{title}:", prompt.canonical)]
    for image in prompt.images:
        rows.append(("image", f"{image.url}  (weight {_num(image.weight)})"))
    for part in prompt.parts:
        rows.append(("text", f"{part.text}  (weight {_num(part.weight)})"))
    for name, value in prompt.params.to_json().items():
        rows.append((name, _show(value)))
    width = max(len(key) for key, _ in rows[1:]) if len(rows) > 1 else 0
    return "\n".join(
        [f"{rows[0][0]} {rows[0][1]}"]
        + [f"  {key.ljust(width)}  {value}" for key, value in rows[1:]]
    )


def _show(value: object) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return ", ".join(f"{v['ref']} (weight {_num(v['weight'])})" for v in value)
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}:{value[1]}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is None:
        return "(latest)"
    if value is True:
        return "on"
    return _num(value) if isinstance(value, float) else str(value)


def _num(value: float) -> str:
    return f"{value:g}"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
