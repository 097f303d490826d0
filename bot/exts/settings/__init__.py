"""A user's defaults: the ``/settings`` panel, ``/prefer``, and ``/fast`` ``/relax`` ``/turbo``."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.deps import FeatureBot
from bot.exts.settings.panel import Panel
from bot.exts.settings.prefer import Prefer

__all__ = ["setup"]


class Settings(commands.Cog):
    def __init__(self, panel: Panel) -> None:
        self.panel = panel

    @app_commands.command(name="settings", description="View and change your settings")
    async def settings(self, interaction: discord.Interaction[Any]) -> None:
        await self.panel.open(interaction)


async def setup(bot: FeatureBot) -> None:
    panel = Panel(bot.deps)
    await bot.add_cog(Settings(panel))
    await bot.add_cog(Prefer(bot.deps))
    bot.add_dynamic_items(*panel.dynamic_items())
