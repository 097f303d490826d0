"""``/imagine``: a prompt in Midjourney's language becomes a 2×2 grid job. While a LoRA's name
is typed after ``--lora``, the prompt option suggests the server's LoRAs."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.deps import Deps, FeatureBot
from bot.jobs.imagine import imagine_text

__all__ = ["PROMPT_MAX", "lora_suggestions", "setup"]

PROMPT_MAX = 6000
CHOICE_MAX = 100
"""Discord's longest autocomplete value: longer prompts get no suggestions."""
CHOICES_MAX = 25
_TYPING_LORA = re.compile(r"(?:^|\s)--lora\s+(?:(?!--)\S+\s+)*?([A-Za-z0-9_.-]*)$")


class Imagine(commands.Cog):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @app_commands.command(name="imagine", description="Create images from a prompt")
    @app_commands.describe(prompt="What to imagine, with Midjourney's parameters (--ar 16:9 …)")
    async def imagine(
        self, interaction: discord.Interaction[Any], prompt: app_commands.Range[str, 1, PROMPT_MAX]
    ) -> None:
        await imagine_text(interaction, self.deps.runner, self.deps.checks, prompt)

    @imagine.autocomplete("prompt")
    async def suggest(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        library = self.deps.checks.loras
        if library is None or "--lora" not in current:
            return []
        names = [entry.name for entry in await asyncio.to_thread(library.entries)]
        return [app_commands.Choice(name=v, value=v) for v in lora_suggestions(current, names)]


def lora_suggestions(current: str, names: list[str]) -> list[str]:
    """The prompt completed with each LoRA whose name starts with what is typed after the last
    ``--lora`` (nothing when the cursor is elsewhere or the result is too long)."""
    match = _TYPING_LORA.search(current)
    if match is None:
        return []
    typed = match.group(1)
    head = current[: match.start(1)]
    completed = [head + name for name in names if name.startswith(typed) and name != typed]
    return [text for text in completed if len(text) <= CHOICE_MAX][:CHOICES_MAX]


async def setup(bot: FeatureBot) -> None:
    await bot.add_cog(Imagine(bot.deps))
