"""An edited prompt (a Remix form, the region editor's prompt box): checked like ``/imagine``,
then put into a child job's spec (its source image, operation and seeds stay)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord

from bot.commands import fetch_references
from bot.convert import version_key
from bot.jobspec import spec_from_prompt
from bot.references import resolve_random_styles
from parser import Prompt, parse

if TYPE_CHECKING:
    from bot.service import JobService

__all__ = ["REMIX_KEYS", "BannedPromptError", "apply_edited_prompt", "read_edited_prompt"]

REMIX_KEYS = (
    "prompt", "negative", "chaos", "stylize", "stop", "quality", "tile", "weird", "version",
    "iw", "sw", "cw",
)  # fmt: skip
"""What an edited prompt changes in a child job's spec."""


class BannedPromptError(Exception):
    def __init__(self, phrase: str) -> None:
        super().__init__(phrase)
        self.phrase = phrase


def read_edited_prompt(service: JobService, text: str, options: Mapping[str, str]) -> Prompt:
    """The one prompt ``text`` makes, with ``--sref random`` drawn; raises
    :class:`~parser.PromptError`, :class:`~engine.errors.UnknownVersionError` (a version this
    server lacks) or :class:`BannedPromptError`."""
    [prompt] = parse(text, options=options, max_permutations=1)
    service.engine.catalog.key_for(version_key(prompt))
    phrase = service.banned.find(text)
    if phrase is not None:
        raise BannedPromptError(phrase)
    return resolve_random_styles(prompt)


async def apply_edited_prompt(
    service: JobService, spec: dict[str, Any], prompt: Prompt
) -> discord.Embed | None:
    """Put ``prompt``'s text, parameters and references into ``spec`` (references the job
    already has are reused by URL); an "Invalid link" embed when a new URL cannot be used."""
    edited = spec_from_prompt(prompt)
    spec.update({key: edited[key] for key in REMIX_KEYS})
    references = await fetch_references(service, prompt, known=spec.get("references", []))
    if isinstance(references, discord.Embed):
        return references
    spec["references"] = references
    return None
