"""A prompt's reference images: which to fetch, ``--sref random``, and the engine's view.

Image prompts, ``--sref`` URLs and ``--cref`` URLs are downloaded once with the safe fetcher
and stored with the job (see ``bot/commands.py``), so restarts and buttons never download
again. Numeric style codes need no download; ``--sref random`` becomes a code at submission,
written into the job's prompt, so rerolls and variations keep the same style.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.style_codes import random_style_code
from parser import Prompt, parse_one

__all__ = ["Wanted", "resolve_random_styles", "wanted_references"]

RANDOM = "random"


@dataclass(frozen=True, slots=True)
class Wanted:
    """One reference of a prompt: a URL to fetch, or a style code."""

    role: str
    """``image``, ``sref`` or ``cref`` (as stored in job specs)."""
    weight: float = 1.0
    url: str | None = None
    code: int | None = None


def wanted_references(prompt: Prompt) -> list[Wanted]:
    """The prompt's references in order: image prompts, styles, characters."""
    wanted = [Wanted("image", i.weight, url=i.url) for i in prompt.images]
    for style in prompt.params.sref:
        if style.is_url:
            wanted.append(Wanted("sref", style.weight, url=style.ref))
        elif style.is_code:
            wanted.append(Wanted("sref", style.weight, code=int(style.ref)))
    wanted += [Wanted("cref", 1.0, url=url) for url in prompt.params.cref]
    return wanted


def resolve_random_styles(prompt: Prompt) -> Prompt:
    """``--sref random`` → ``--sref <new code>``, a new code for each ``random`` (each job of
    a permutation or ``--repeat`` prompt calls this, so each gets its own style)."""
    if not any(s.ref.lower() == RANDOM for s in prompt.params.sref):
        return prompt
    words = prompt.canonical.split(" ")
    inside = False
    for index, word in enumerate(words):
        if word.startswith("--"):
            inside = word.lower() == "--sref"
            continue
        head, sep, weight = word.partition("::")
        if inside and head.lower() == RANDOM:
            words[index] = f"{random_style_code()}{sep}{weight}"
    return parse_one(" ".join(words))
