"""``/imagine``: a prompt in Midjourney's language becomes a 2×2 grid job."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.deps import Deps, FeatureBot
from bot.jobs.imagine import imagine_text

__all__ = ["PROMPT_MAX", "setup"]

PROMPT_MAX = 6000


class Imagine(commands.Cog):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @app_commands.command(name="imagine", description="Create images from a prompt")
    @app_commands.describe(prompt="What to imagine, with Midjourney's parameters (--ar 16:9 …)")
    async def imagine(
        self, interaction: discord.Interaction[Any], prompt: app_commands.Range[str, 1, PROMPT_MAX]
    ) -> None:
        await imagine_text(interaction, self.deps.runner, self.deps.checks, prompt)


async def setup(bot: FeatureBot) -> None:
    await bot.add_cog(Imagine(bot.deps))
