"""The test harness: a small real discord.py bot, a runner for it, and a raw HTTP helper."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from playground.driver import Emulator

COLOURS = ("red", "green", "blue", "rebeccapurple")


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


class CounterButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"counter:(?P<n>\d+)"
):
    """State lives in the custom_id, so a click works after any restart."""

    def __init__(self, count: int) -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=f"Count {count}", custom_id=f"counter:{count}"
        )
        super().__init__(button)
        self.count = count

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> CounterButton:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(CounterButton(self.count + 1))
        content = f"count {self.count + 1} by {interaction.user.name}"
        await interaction.response.edit_message(content=content, view=view)


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
        label="Your feedback", custom_id="fb:text"
    )
    rating: discord.ui.Label[FeedbackModal] = discord.ui.Label(
        text="Rating",
        component=discord.ui.Select(
            custom_id="fb:rating",
            options=[discord.SelectOption(label=v, value=v) for v in ("good", "bad")],
        ),
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.rating.component, discord.ui.Select)
        rating = self.rating.component.values[0]
        content = f"thanks {interaction.user.name}: {self.text.value} ({rating})"
        await interaction.response.send_message(content)


class PickView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.select(
        custom_id="pick:color",
        options=[discord.SelectOption(label=v, value=v) for v in ("red", "blue")],
    )
    async def pick(
        self, interaction: discord.Interaction, select: discord.ui.Select[PickView]
    ) -> None:
        await interaction.response.send_message(f"picked {select.values[0]}", ephemeral=True)


class SampleBot(commands.Bot):
    def __init__(self, guild_id: int) -> None:
        super().__init__(
            command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05
        )
        self.guild_id = guild_id
        self.gate = asyncio.Event()
        self.errors: list[Exception] = []
        self.reactions: list[tuple[str, int, int]] = []
        self.seen: list[str] = []
        self.autocompleted: list[str] = []
        self.tree.on_error = self.on_tree_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CounterButton)
        guild = discord.Object(self.guild_id)
        for command in build_commands(self):
            self.tree.add_command(command, guild=guild)
        await self.tree.sync(guild=guild)

    async def on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        self.errors.append(getattr(error, "original", error))

    async def on_message(self, message: discord.Message) -> None:
        if message.author != self.user:
            self.seen.append(message.content)

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        self.reactions.append((str(event.emoji), event.user_id, event.message_id))


def build_commands(
    bot: SampleBot,
) -> list[app_commands.Command[Any, Any, Any] | app_commands.Group]:
    @app_commands.command(description="Echo text, reply with the file reversed")
    async def echo(interaction: discord.Interaction, text: str, file: discord.Attachment) -> None:
        data = await file.read()
        reply = discord.File(io.BytesIO(data[::-1]), "rev.bin")
        await interaction.response.send_message(f"echo: {text} ({len(data)} bytes)", file=reply)

    @app_commands.command(description="A counter panel")
    async def panel(interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(CounterButton(0))
        await interaction.response.send_message("count 0", view=view)

    @app_commands.command(description="Open a feedback form")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal())

    @app_commands.command(description="Pick a colour")
    async def pick(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pick one", view=PickView())

    @app_commands.command(description="Only for you")
    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("only you", ephemeral=True)

    @app_commands.command(description="Defer, follow up twice, edit the original")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("part 1")
        await interaction.followup.send("part 2")
        await interaction.edit_original_response(content="done")

    @app_commands.command(description="Post, edit and delete in the channel")
    async def post(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("posting", ephemeral=True)
        assert isinstance(interaction.channel, discord.TextChannel)
        file = discord.File(io.BytesIO(b"hello file"), "hello.txt")
        msg = await interaction.channel.send("draft", file=file)
        await msg.edit(content="final")
        await msg.delete()

    @app_commands.command(description="Reply with a file of this size")
    async def upload(interaction: discord.Interaction, size: int) -> None:
        file = discord.File(io.BytesIO(b"\0" * size), "big.bin")
        await interaction.response.send_message("here", file=file)

    @app_commands.command(description="Answer once the test opens the gate")
    async def sleepy(interaction: discord.Interaction) -> None:
        await bot.gate.wait()
        await interaction.response.send_message("finally")

    @app_commands.command(description="Defer, then follow up once the test opens the gate")
    async def late(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await bot.gate.wait()
        await interaction.followup.send("much later")

    @app_commands.command(description="Reply and react to the reply")
    async def react(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("react to me")
        message = await interaction.original_response()
        await message.add_reaction("👍")

    @app_commands.command(description="Say hello in private")
    async def dm(interaction: discord.Interaction) -> None:
        await interaction.user.send("hello in private")
        await interaction.response.send_message("sent", ephemeral=True)

    @app_commands.command(description="Pong")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    @app_commands.command(description="Name a colour")
    @app_commands.describe(name="A colour (the bot suggests some)", shade="How light")
    async def colour(
        interaction: discord.Interaction, name: str, shade: Literal["light", "dark"] = "light"
    ) -> None:
        await interaction.response.send_message(f"colour {name} ({shade})")

    @colour.autocomplete("name")
    async def colour_names(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        bot.autocompleted.append(current)
        return [
            app_commands.Choice(name=c.title(), value=c) for c in COLOURS if current.lower() in c
        ]

    @app_commands.command(description="A message with everything Discord draws")
    async def rich(interaction: discord.Interaction) -> None:
        embed = discord.Embed(
            title="A rich embed",
            description=f"**bold** and {interaction.user.mention}",
            colour=0x57F287,
        )
        embed.add_field(name="Seed", value="42")
        embed.add_field(name="Size", value="64×48")
        embed.add_field(name="Prompt", value="a red fox", inline=False)
        embed.set_footer(text="the footer")
        embed.set_image(url="attachment://picture.png")
        view = discord.ui.View(timeout=None)
        view.add_item(discord.ui.Button(label="Open", url="https://example.com/editor"))
        view.add_item(discord.ui.Button(label="Off", disabled=True, custom_id="rich:off"))
        view.add_item(
            discord.ui.Button(emoji="🔄", style=discord.ButtonStyle.primary, custom_id="rich:re")
        )
        when = int(time.time()) - 120
        await interaction.response.send_message(
            f"**Hello** {interaction.user.mention}, made <t:{when}:R>",
            embed=embed,
            file=discord.File(io.BytesIO(png(64, 48)), "picture.png"),
            view=view,
        )

    config = app_commands.Group(name="config", description="Settings")
    advanced = app_commands.Group(name="advanced", description="More", parent=config)

    @advanced.command(name="set", description="Set a value")
    async def config_set(
        interaction: discord.Interaction,
        key: str,
        value: int,
        fast: bool = False,
        ratio: float = 1.0,
    ) -> None:
        await interaction.response.send_message(f"{key}={value} fast={fast} ratio={ratio}")

    return [
        echo,
        panel,
        pick,
        feedback,
        secret,
        slow,
        post,
        upload,
        sleepy,
        late,
        react,
        dm,
        ping,
        colour,
        rich,
        config,
    ]


@contextlib.asynccontextmanager
async def running(emu: Emulator, token: str | None = None) -> AsyncIterator[SampleBot]:
    """A real bot: login, setup_hook (sync), gateway, READY; always closed afterwards.

    A bot that crashed while the block ran (a gateway parser choking on a payload, say) fails
    the test after the block, with the crash as the cause.
    """
    bot = SampleBot(emu.guild_id)
    task = asyncio.create_task(bot.start(token or emu.token))
    ready = asyncio.create_task(bot.wait_until_ready())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=5, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()  # raise the reason start() ended
        assert ready in done, "the bot never became ready"
        yield bot
    finally:
        ready.cancel()
        await bot.close()
        crash: Exception | None = None
        try:
            await task
        except Exception as exc:  # reported below, unless the block already failed
            crash = exc
    if crash is not None:
        raise AssertionError("the bot crashed while the test ran") from crash


async def raw(
    emu: Emulator, method: str, path: str, body: Any = None, *, auth: bool = True
) -> tuple[int, str, Any]:
    """One plain HTTP request, to see exactly what the emulator answers."""
    headers = {"Authorization": f"Bot {emu.token}"} if auth else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, emu.api_base + path, json=body, headers=headers) as response,
    ):
        text = await response.text()
        data = json.loads(text) if text else None
        return response.status, response.headers.get("Content-Type", ""), data


# A bot as its own OS process, pointed at the emulator by environment only.
BOT_PROCESS = """
import os, discord, discord.gateway, discord.http, yarl
from discord import app_commands

discord.http.Route.BASE = os.environ["DISCORD_API_BASE_URL"]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
guild = discord.Object(int(os.environ["DISCORD_GUILD_IDS"]))

class Bot(discord.Client):
    def __init__(self):
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self):
        @self.tree.command(guild=guild, description="Which process answers")
        async def whoami(interaction):
            await interaction.response.send_message(f"pid {os.getpid()}")
        await self.tree.sync(guild=guild)

Bot().run(os.environ["DISCORD_TOKEN"], log_handler=None)
"""
