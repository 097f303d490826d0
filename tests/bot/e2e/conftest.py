"""End-to-end harness: the real bot (discord.py over HTTP + WebSocket) against the emulator."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PIL import Image

from bot.app import MjBot
from bot.cli.serve import point_discord_at
from bot.config import Settings
from playground import Emulator
from playground.models import InteractionRecord, Message, User


@pytest.fixture(scope="session")
def shared_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of the built-in models for every bot in the session."""
    return tmp_path_factory.mktemp("shared-models")


class TracebackCatcher(logging.Handler):
    """Keeps every log record that carries a traceback (the bot's, discord.py's, aiohttp's)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.found: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is not None or "Traceback" in record.getMessage():
            self.found.append(record)


@pytest.fixture(autouse=True)
def no_unexpected_tracebacks(request: pytest.FixtureRequest) -> Iterator[TracebackCatcher]:
    """Every end-to-end test fails on a traceback in the log it did not expect: each error
    the bot meets is understood and logged as one line (``allow_tracebacks`` marks the tests
    that provoke one on purpose)."""
    catcher = TracebackCatcher()
    root = logging.getLogger()
    root.addHandler(catcher)
    try:
        yield catcher
    finally:
        root.removeHandler(catcher)
    if request.node.get_closest_marker("allow_tracebacks") is None and catcher.found:
        shown = "\n".join(
            f"{r.name}: {r.getMessage()}\n{logging.Formatter().formatException(r.exc_info)}"
            if r.exc_info
            else f"{r.name}: {r.getMessage()}"
            for r in catcher.found[:3]
        )
        pytest.fail(f"{len(catcher.found)} unexpected traceback(s) in the log:\n{shown}")


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


def marked_png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    """A PNG of ``colour`` with a contrasting block in its top-left corner (so two colours'
    images differ in content as well as tint)."""
    image = Image.new("RGB", size, colour)
    image.paste((255 - colour[0], 40, 90), (0, 0, size[0] // 2, size[1] // 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


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


# -- the bot as a real process (`mjbot serve`) ---------------------------------------------

ROOT = Path(__file__).resolve().parents[3]
MJBOT = Path(sys.executable).with_name("mjbot")


class BotProcess:
    running: ClassVar[list[BotProcess]] = []  # reaped after each test, whatever happened

    def __init__(self, emu: Emulator, data_dir: Path, models: Path, **env: str) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        if not (data_dir / "models").exists():
            (data_dir / "models").symlink_to(models, target_is_directory=True)
        self.env = {
            **os.environ,
            **emu.bot_env(),
            "DISCORD_GUILD_IDS": str(emu.guild_id),
            "MJ_DATA_DIR": str(data_dir),
            "MJ_PROGRESS_INTERVAL": "0",
            "MJ_WEB_PORT": "0",  # any free port: bots of parallel test runs never collide
            "HF_HUB_OFFLINE": "1",
            "MJ_MODEL": "builtin:tiny",
            **env,
        }
        self.process: asyncio.subprocess.Process | None = None
        self.log = data_dir / "bot.log"

    async def start(self, *command: str) -> None:
        # An asyncio subprocess: the emulator runs on this event loop and must keep serving.
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *(command or (str(MJBOT), "serve")), cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        BotProcess.running.append(self)

    async def stop(self, signum: int = signal.SIGTERM) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), 60)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


async def connected(emu: Emulator, bot: BotProcess) -> None:
    def ready() -> bool:
        assert bot.process is not None
        if bot.process.returncode is not None:
            raise AssertionError(f"the bot exited:\n{bot.output()[-3000:]}")
        return emu.connected and bool(emu.commands(emu.guild_id))

    await emu.wait_for(ready, 120, what="the bot process to connect and sync its commands")


@pytest.fixture(autouse=True)
async def reap_bots(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Kill what a test left running; fail on a traceback in any bot process's log."""
    yield
    logs = []
    while BotProcess.running:
        bot = BotProcess.running.pop()
        if bot.process is not None and bot.process.returncode is None:
            bot.process.kill()
            await bot.process.wait()
        logs.append(bot.output())
    if request.node.get_closest_marker("allow_tracebacks") is None:
        for output in logs:
            if "Traceback" in output:
                start = output.index("Traceback")
                pytest.fail(f"a traceback in the bot's log:\n{output[start - 300 : start + 3000]}")
