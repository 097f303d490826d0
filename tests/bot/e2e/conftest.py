"""End-to-end harness: the real bot (discord.py over HTTP + WebSocket) against the emulator."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.app import MjBot
from bot.serve import point_discord_at
from bot.settings import Settings
from playground import Emulator
from playground.models import InteractionRecord, Message, User


@pytest.fixture(scope="session")
def shared_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of the built-in models for every bot in the session."""
    return tmp_path_factory.mktemp("shared-models")


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


class BotHarness:
    """Starts, stops and restarts an in-process bot on one data folder."""

    def __init__(self, emu: Emulator, data_dir: Path, models: Path, **overrides: Any) -> None:
        self.emu = emu
        self.data_dir = data_dir
        self.overrides = overrides
        self.bot: MjBot | None = None
        self._task: asyncio.Task[None] | None = None
        data_dir.mkdir(parents=True, exist_ok=True)
        if not (data_dir / "models").exists():
            (data_dir / "models").symlink_to(models, target_is_directory=True)

    def settings(self) -> Settings:
        values: dict[str, Any] = {
            "discord_token": self.emu.token,
            "discord_api_base_url": self.emu.api_base,
            "discord_gateway_url": self.emu.gateway_url,
            "discord_guild_ids": [self.emu.guild_id],
            "mj_data_dir": self.data_dir,
            "mj_progress_interval": 0.0,
            "mj_model": "builtin:tiny",
            "mj_web_port": 0,
            **self.overrides,
        }
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    async def start(self) -> MjBot:
        point_discord_at(self.emu.api_base, self.emu.gateway_url)
        self.bot = MjBot(self.settings(), guild_ready_timeout=0.05)
        self._task = asyncio.create_task(self.bot.start(self.emu.token))
        await self.emu.wait_for(
            lambda: (
                (self.bot is not None and self.bot.is_ready())
                or (self._task is not None and self._task.done())
            ),
            60,
            what="the bot to be ready",
        )
        if self._task.done():
            self._task.result()  # raise what went wrong at start
        return self.bot

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self._task is not None:
            await self._task
        self.bot = None
        self._task = None

    async def restart(self) -> MjBot:
        await self.stop()
        await self.emu.wait_disconnected()
        return await self.start()


@pytest.fixture
async def harness(
    emu: Emulator, tmp_path: Path, shared_models: Path, request: pytest.FixtureRequest
) -> AsyncIterator[BotHarness]:
    marker = request.node.get_closest_marker("bot_settings")
    overrides = dict(marker.kwargs) if marker else {}
    bot = BotHarness(emu, tmp_path / "data", shared_models, **overrides)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()
    allowed = request.node.get_closest_marker("allow_violations")
    emu.assert_no_violations(*(allowed.args if allowed else ()))  # Discord's rules were kept


# -- helpers for the tests ---------------------------------------------------------------------

PROGRESS = re.compile(r"\(\d+%\)|\(Waiting to start\)")


async def imagine(emu: Emulator, prompt: str, user: User | None = None) -> InteractionRecord:
    return await emu.slash("imagine", user or emu.alice, options={"prompt": prompt})


def results(emu: Emulator, pattern: str) -> list[Message]:
    """Results: the bot's non-ephemeral messages with an image whose content matches
    ``pattern`` (a job's waiting message, even with a progress preview, is not one)."""
    regex = re.compile(pattern)
    return [
        m
        for m in emu.messages()
        if not m.ephemeral
        and m.attachments
        and m.author_id == emu.bot_user.id
        and regex.search(m.content)
        and not PROGRESS.search(m.content)
    ]


async def wait_result(emu: Emulator, pattern: str, count: int = 1, timeout: float = 60) -> Message:  # noqa: ASYNC109 - passed to wait_for
    found = await emu.wait_for(
        lambda: len(results(emu, pattern)) >= count and results(emu, pattern),
        timeout,
        what=f"a result /{pattern}/",
    )
    return found[count - 1]


def image_of(emu: Emulator, message: Message) -> Image.Image:
    image = Image.open(io.BytesIO(emu.attachment_bytes(message.attachments[0])))
    image.load()
    return image


def labels(message: Message) -> list[list[str]]:
    rows = []
    for row in message.components:
        rows.append(
            [
                c.get("label") or (c.get("emoji") or {}).get("name", "")
                for c in row.get("components", [])
            ]
        )
    return rows


def custom_id(message: Message, label: str) -> str:
    for row in message.components:
        for component in row.get("components", []):
            if label in (component.get("label"), (component.get("emoji") or {}).get("name")):
                return str(component["custom_id"])
    raise AssertionError(f"no button {label!r} on message {message.id}: {labels(message)}")
