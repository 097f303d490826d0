"""``/loras``: the LoRAs ``--lora`` can use on this server (``MJ_LORA_DIR``), with their default
weights, trigger words and descriptions — answered only to the user."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.deps import Deps, FeatureBot
from bot.errors import UserError
from engine.errors import ModelLoadError
from engine.loras import LoraEntry

__all__ = ["Loras", "loras_embed", "setup"]

EMBED_DESCRIPTION_MAX = 4096
NONE_YET = (
    "No LoRAs on this server yet. An admin adds `.safetensors` LoRAs (diffusers or kohya/A1111 "
    "format) to `{folder}`, optionally with a `loras.json` manifest of default weights and "
    "trigger words; then use them with `--lora name` or `--lora name::0.7`."
)


class Loras(commands.Cog):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @app_commands.command(name="loras", description="List the LoRAs you can use with --lora")
    async def loras(self, interaction: discord.Interaction[Any]) -> None:
        library = self.deps.checks.loras  # the one the prompt checks use
        try:
            entries = await asyncio.to_thread(library.entries) if library is not None else []
        except ModelLoadError as error:  # a broken manifest: say where
            raise UserError(str(error), title="LoRA folder") from None
        embed = loras_embed(entries, str(self.deps.settings.lora_dir))
        await interaction.response.send_message(embed=embed, ephemeral=True)


def loras_embed(entries: list[LoraEntry], folder: str) -> discord.Embed:
    """One line per LoRA: ``**name**`` (default weight) — trigger words — description."""
    if not entries:
        return discord.Embed(title="LoRAs", description=NONE_YET.format(folder=folder))
    lines = []
    for entry in entries:
        line = f"**{entry.name}** (weight {entry.weight:g})"
        if entry.trigger:
            line += f" — adds “{entry.trigger}”"
        if entry.description:
            line += f" — {entry.description}"
        lines.append(line)
    text = "\n".join(lines)
    if len(text) > EMBED_DESCRIPTION_MAX:
        text = text[: EMBED_DESCRIPTION_MAX - 1] + "…"
    embed = discord.Embed(title="LoRAs", description=text)
    embed.set_footer(text="Use: --lora name or --lora name::0.7 (0–2), up to 4 per prompt")
    return embed


async def setup(bot: FeatureBot) -> None:
    await bot.add_cog(Loras(bot.deps))
