"""``mjbot parse``: how the bot understands a prompt, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from parser import PromptError, parse
from parser.prompt import Prompt

__all__ = ["EXIT_PROMPT_ERROR", "describe_error", "run_parse"]

EXIT_PROMPT_ERROR = 2


def run_parse(args: argparse.Namespace) -> int:
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
