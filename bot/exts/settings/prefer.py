"""``/prefer suffix|option|remix|variability`` and ``/fast`` ``/relax`` ``/turbo``.

Every answer is ephemeral; every change is stored on the user's row at once, so it holds for
the next prompt and across restarts.
"""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import texts
from bot.deps import Deps
from bot.errors import UserError, prompt_refusal
from bot.preferences import load_preferences, shown_suffix
from db import JobMode, Variability
from db.errors import TooManyOptionsError
from db.users import list_options, set_option, update_user
from parser import MAX_OPTIONS, PromptError, check_option_name, parse, parse_suffix

__all__ = ["Prefer"]

REMIX_ON = (
    "Remix mode turned on! Clicking the variation buttons will now give you a chance to "
    "edit your prompt! You can turn it off with /prefer remix."
)
REMIX_OFF = "Remix mode turned off! Variation buttons now vary your image without asking."
MODE_REPLIES = {
    JobMode.FAST: "Done! Your jobs now run in Fast mode.",
    JobMode.RELAX: "Done! Your jobs now run in Relax mode: they wait behind fast jobs.",
    JobMode.TURBO: "Done! Your jobs now run in Turbo mode: ahead of fast jobs, at twice the cost.",
}
MESSAGE_MAX = 2000


async def _say(interaction: discord.Interaction[Any], text: str) -> None:
    await interaction.response.send_message(
        texts.shorten(text, MESSAGE_MAX),
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


class Prefer(commands.Cog):
    prefer = app_commands.Group(name="prefer", description="Your defaults for every prompt")
    option = app_commands.Group(
        name="option", description="Your own --name shortcuts", parent=prefer
    )

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @prefer.command(name="suffix", description="Parameters added to the end of every prompt")
    @app_commands.describe(new_value="Parameters only, like --ar 16:9 --s 250; empty clears it")
    async def prefer_suffix(
        self, interaction: discord.Interaction[Any], new_value: str = ""
    ) -> None:
        value = " ".join(new_value.split())
        if value:
            try:
                parse_suffix(value)
            except PromptError as error:
                raise prompt_refusal(error, f"/prefer suffix {value}") from None
        async with self.deps.db.session() as session:
            await update_user(session, interaction.user.id, suffix=value)
        preferences = await load_preferences(self.deps.db, interaction.user.id)
        shown = shown_suffix(preferences) or "nothing"
        room = (MESSAGE_MAX - 100) // 2
        head = f"Suffix set to `{texts.shorten(value, room)}`." if value else "Suffix cleared."
        await _say(interaction, f"{head} Every prompt now gets: `{texts.shorten(shown, room)}`")

    @option.command(name="set", description="Create or change a --name shortcut; empty deletes it")
    @app_commands.describe(option="The name, used as --name", value="What --name stands for")
    async def option_set(
        self, interaction: discord.Interaction[Any], option: str, value: str = ""
    ) -> None:
        try:
            name = check_option_name(option)
            value = " ".join(value.split())
            if value:  # the option must make a valid prompt where it is used (bounded, slow)
                await asyncio.to_thread(
                    parse, f"placeholder --{name}", options={name: value}, max_permutations=1_000
                )
        except PromptError as error:
            raise prompt_refusal(error, f"/prefer option set {option} {value}") from None
        try:
            async with self.deps.db.session() as session:
                await set_option(session, interaction.user.id, name, value)
        except TooManyOptionsError:
            raise UserError(
                f"You can have {MAX_OPTIONS} options; delete one first "
                "(/prefer option set with an empty value).",
                title="Too many options",
            ) from None
        if value:
            shown = texts.shorten(value, MESSAGE_MAX - 100)
            await _say(interaction, f"Custom option `--{name}` set to `{shown}`.")
        else:
            await _say(interaction, f"Custom option `--{name}` deleted.")

    @option.command(name="list", description="Your --name shortcuts")
    async def option_list(self, interaction: discord.Interaction[Any]) -> None:
        async with self.deps.db.session() as session:
            options = await list_options(session, interaction.user.id)
        if not options:
            await _say(
                interaction, "You have no custom options. Create one with /prefer option set."
            )
            return
        lines = [f"`--{name}`: `{value}`" for name, value in options.items()]
        embed = discord.Embed(
            title=f"Your custom options ({len(options)}/{MAX_OPTIONS})",
            description="\n".join(lines)[:4096],
            colour=0x5865F2,
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @prefer.command(name="remix", description="Turn Remix mode on or off")
    async def prefer_remix(self, interaction: discord.Interaction[Any]) -> None:
        async with self.deps.db.session() as session:
            user = await update_user(session, interaction.user.id)
            user.remix = not user.remix
            on = user.remix
        await _say(interaction, REMIX_ON if on else REMIX_OFF)

    @prefer.command(name="variability", description="Switch between High and Low Variation Mode")
    async def prefer_variability(self, interaction: discord.Interaction[Any]) -> None:
        async with self.deps.db.session() as session:
            user = await update_user(session, interaction.user.id)
            low = user.variability is Variability.HIGH
            user.variability = Variability.LOW if low else Variability.HIGH
        await _say(
            interaction,
            "Low Variation Mode: V buttons now make subtle variations."
            if low
            else "High Variation Mode: V buttons now make strong variations.",
        )

    async def _set_mode(self, interaction: discord.Interaction[Any], mode: JobMode) -> None:
        async with self.deps.db.session() as session:
            await update_user(session, interaction.user.id, mode=mode)
        await _say(interaction, MODE_REPLIES[mode])

    @app_commands.command(name="fast", description="Switch to Fast mode")
    async def fast(self, interaction: discord.Interaction[Any]) -> None:
        await self._set_mode(interaction, JobMode.FAST)

    @app_commands.command(name="relax", description="Switch to Relax mode (waits behind fast jobs)")
    async def relax(self, interaction: discord.Interaction[Any]) -> None:
        await self._set_mode(interaction, JobMode.RELAX)

    @app_commands.command(name="turbo", description="Switch to Turbo mode (first in line, 2× cost)")
    async def turbo(self, interaction: discord.Interaction[Any]) -> None:
        await self._set_mode(interaction, JobMode.TURBO)
