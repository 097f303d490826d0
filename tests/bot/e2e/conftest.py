"""End-to-end harness: the real bot (discord.py over HTTP + WebSocket) against the emulator.

Each bot keeps its data in a SQLite file in its data folder and, where MJ_TEST_DATABASE_URL
names a PostgreSQL server, every test that takes ``harness`` or ``database`` runs a second time
against a fresh database of its own there (tests/databases.py). ``sqlite_only(reason)`` marks
the tests about SQLite itself (its file, its write lock), which have no PostgreSQL variant.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.app import MjBot
from bot.cli.serve import point_discord_at
from bot.config import Settings
from playground import Emulator
from playground.models import InteractionRecord, Message, User
from tests.databases import BACKENDS, fresh_postgres_database


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


class BotDatabase:
    """The database of one test's bot, and plain SQL on it for the test's own checks.

    :meth:`rows` is synchronous (tests call it inside ``emu.wait_for`` predicates, re-run
    every few milliseconds): it runs on an event loop of its own, in a thread, over one
    connection kept open, so it neither needs nor waits for the test's loop.
    """

    def __init__(self, backend: str, url: str) -> None:
        self.backend = backend
        self.url = url
        # SQLite: a connection per query, so that none is left open on the file between them.
        # PostgreSQL: JSON columns come back as their text, as SQLite's do.
        options: dict[str, Any] = (
            {"poolclass": NullPool} if backend == "sqlite" else {"json_deserializer": str}
        )
        self._engine = create_async_engine(url, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-sql")
        self._thread.start()

    @property
    def settings(self) -> dict[str, Any]:
        """The bot's setting: for SQLite none, its default file in the data folder (and not
        an MJ_DATABASE_URL the developer's shell may hold)."""
        return {"mj_database_url": None if self.backend == "sqlite" else self.url}

    @property
    def env(self) -> dict[str, str]:
        """The same for a bot process: the variables it adds to ``os.environ`` without
        MJ_DATABASE_URL."""
        return {} if self.backend == "sqlite" else {"MJ_DATABASE_URL": self.url}

    def rows(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        """Runs one statement (``:name`` parameters) in a transaction of its own and returns
        its rows (none for UPDATE): JSON as text; booleans as 0/1 from SQLite, False/True
        from PostgreSQL, equal either way."""

        async def run() -> list[tuple[Any, ...]]:
            async with self._engine.begin() as connection:
                result = await connection.execute(text(query), params)
                return [tuple(row) for row in result] if result.returns_rows else []

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=60)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._engine.dispose(), self._loop).result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test whose bot has a database (it takes ``harness`` or ``database``) runs on
    every backend, but those marked sqlite_only."""
    if "database" in metafunc.fixturenames and not metafunc.definition.get_closest_marker(
        "sqlite_only"
    ):
        metafunc.parametrize("database", BACKENDS, indirect=True)


@pytest.fixture
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BotDatabase]:
    """The database of the test's bot (whose data folder is ``tmp_path / "data"``)."""
    backend = getattr(request, "param", "sqlite")
    async with contextlib.AsyncExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{(tmp_path / 'data' / 'mjbot.db').resolve()}"
        else:
            url = await stack.enter_async_context(fresh_postgres_database())
        db = BotDatabase(backend, url)
        stack.callback(db.close)
        yield db


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


class BotHarness:
    """Starts, stops and restarts an in-process bot on one data folder and database."""

    def __init__(
        self,
        emu: Emulator,
        database: BotDatabase,
        data_dir: Path,
        models: Path,
        **overrides: Any,
    ) -> None:
        self.emu = emu
        self.database = database
        self.data_dir = data_dir
        self.overrides = {**database.settings, **overrides}
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
    emu: Emulator,
    database: BotDatabase,
    tmp_path: Path,
    shared_models: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[BotHarness]:
    marker = request.node.get_closest_marker("bot_settings")
    overrides = dict(marker.kwargs) if marker else {}
    bot = BotHarness(emu, database, tmp_path / "data", shared_models, **overrides)
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

    def __init__(
        self, emu: Emulator, database: BotDatabase, data_dir: Path, models: Path, **env: str
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        if not (data_dir / "models").exists():
            (data_dir / "models").symlink_to(models, target_is_directory=True)
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "MJ_DATABASE_URL"},
            **emu.bot_env(),
            "DISCORD_GUILD_IDS": str(emu.guild_id),
            "MJ_DATA_DIR": str(data_dir),
            "MJ_PROGRESS_INTERVAL": "0",
            "MJ_WEB_PORT": "0",  # any free port: bots of parallel test runs never collide
            "HF_HUB_OFFLINE": "1",
            "MJ_MODEL": "builtin:tiny",
            **database.env,
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


def _encoded(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, quality=92) if kind == "JPEG" else image.save(out, kind)
    return out.getvalue()


@pytest.fixture(scope="module")
def photos() -> dict[str, tuple[str, bytes, str]]:
    """``/portrait train`` uploads: three of one face (skimage's astronaut) and a wall."""
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    flipped = astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return {
        "photo1": ("me.png", _encoded(astronaut, "PNG"), "image/png"),
        "photo2": (
            "wall.png",
            _encoded(Image.new("RGB", (300, 200), (90, 90, 90)), "PNG"),
            "image/png",
        ),
        "photo3": ("flipped.jpg", _encoded(flipped, "JPEG"), "image/jpeg"),
        "photo4": ("closer.png", _encoded(astronaut.crop((40, 0, 472, 432)), "PNG"), "image/png"),
    }
