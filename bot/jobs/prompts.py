"""The one check of a prompt a user typed (``/imagine``, a Remix form, the region editor).

Parse (with the user's options, and their suffix and settings where asked), then the banned
words, then the model versions this server has. Every refusal is a :class:`~bot.errors.UserError`
naming the problem, so each caller only decides where to show it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot import texts
from bot.errors import UserError, prompt_refusal
from bot.jobs.references import resolve_random_styles
from bot.jobs.spec import version_key
from bot.moderation import BannedWords
from bot.preferences import Preferences, parse_with_preferences
from engine.errors import InvalidRequestError, ModelLoadError, UnknownVersionError
from engine.house_style import check_style
from engine.loras import LoraLibrary, LoraUse
from engine.models import ModelCatalog
from parser import Prompt, PromptError, parse

__all__ = ["ONE_PROMPT", "PromptChecks", "check_one_prompt", "check_prompt"]

ONE_PROMPT = "One prompt at a time here (no {…} permutations or --repeat)."


@dataclass(frozen=True, slots=True)
class PromptChecks:
    """What this server allows."""

    banned: BannedWords
    catalog: ModelCatalog
    max_permutations: int
    loras: LoraLibrary | None = None
    """``--lora``'s folder; ``None``: any ``--lora`` is refused."""


async def check_prompt(
    text: str,
    preferences: Preferences,
    checks: PromptChecks,
    *,
    footer: str,
    edited: bool = False,
) -> list[Prompt]:
    """The prompts ``text`` makes. A new prompt gets the user's options, suffix and settings
    and may make several prompts (permutations); an ``edited`` one (Remix, the region editor:
    it already carries what the suffix and settings added) gets the options only and must
    make exactly one. Parsing runs in a thread: macros and permutations can make it slow."""
    try:
        if edited:
            prompts = await asyncio.to_thread(
                parse,
                text,
                options=preferences.options,
                max_permutations=1,
                niji_default=preferences.niji,
            )
        else:
            prompts = await asyncio.to_thread(
                parse_with_preferences, text, preferences, max_permutations=checks.max_permutations
            )
    except PromptError as error:
        raise prompt_refusal(error, footer) from None
    phrase = checks.banned.find(text)
    if phrase is not None:
        raise UserError(
            texts.BANNED.format(phrase=phrase), title="Banned prompt detected", footer=footer
        )
    for prompt in prompts:
        version = version_key(prompt)
        try:
            checks.catalog.key_for(version)
            niji = version is not None and version.startswith("niji")
            check_style(prompt.params.style, niji=niji)
            if prompt.params.lora:  # reads the LoRA folder: off the event loop
                await asyncio.to_thread(_check_loras, prompt, checks.loras)
        except (UnknownVersionError, InvalidRequestError, ModelLoadError) as error:
            raise UserError(str(error), title="Invalid parameter", footer=footer) from None
    return prompts


async def check_one_prompt(
    text: str, preferences: Preferences, checks: PromptChecks, *, footer: str
) -> Prompt:
    """The one prompt ``text`` makes (commands that make one job: no permutations, no
    ``--repeat``), its ``--sref random`` resolved; :class:`UserError` otherwise."""
    prompts = await check_prompt(text, preferences, checks, footer=footer)
    if len(prompts) != 1 or (prompts[0].params.repeat or 1) > 1:
        raise UserError(ONE_PROMPT, title="Invalid parameter", footer=footer)
    return resolve_random_styles(prompts[0])


def _check_loras(prompt: Prompt, library: LoraLibrary | None) -> None:
    uses = [LoraUse(lora.name, lora.weight) for lora in prompt.params.lora]
    if not uses:
        return
    if library is None:
        raise InvalidRequestError("--lora: this server has no LoRA folder")
    library.resolve(uses)
