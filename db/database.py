"""Connecting: the async engine, SQLite pragmas, sessions, and migrations on start."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

from db.backup import backup_sqlite
from db.errors import SchemaTooNewError
from db.faults import database_fault

__all__ = ["Database", "WriteGate", "default_url", "sqlite_path"]

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
WRITE_GATE_TIMEOUT_S = 10.0
"""How long a unit of work waits for this process's other writers before trying SQLite's
lock anyway (so a unit of work opened inside another still fails with "locked", never hangs)."""
CLOSE_GRACE_S = 5.0
MIGRATIONS = Path(__file__).parent / "migrations"


def default_url(data_dir: Path) -> str:
    """SQLite in the data folder (``DATA_DIR/mjbot.db``)."""
    return f"sqlite+aiosqlite:///{(data_dir / 'mjbot.db').resolve()}"


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (``None`` for other databases and ``:memory:``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class Database:
    """One async engine and its session factory; ``async with db.session()`` is one unit of
    work (one transaction, committed on success, rolled back on error).

    Storage faults (disk full, read-only or unwritable database) raised inside a unit of work
    come out as :class:`~db.errors.StorageFaultError` subclasses naming the database; other
    database errors (constraints…) propagate unchanged.
    """

    def __init__(self, url: str, *, echo: bool = False, migrations: Path = MIGRATIONS) -> None:
        self.url = url
        self.path = sqlite_path(url)
        self.is_sqlite = url.startswith("sqlite")
        self.migrations = migrations
        options: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            options["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
        else:
            options["pool_pre_ping"] = True
        self.engine: AsyncEngine = create_async_engine(url, **options)
        self._reader = self.engine
        if self.is_sqlite:
            _configure_sqlite(self.engine, "BEGIN IMMEDIATE")
            # Reads take no write lock: in WAL they see the last commit and never wait.
            self._reader = create_async_engine(url, **options)
            _configure_sqlite(self._reader, "BEGIN")
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite's one-hop units of work (see run): a synchronous engine on the same file,
        # driven by one thread of its own.
        self._direct: sessionmaker[Session] | None = None
        self._direct_thread: ThreadPoolExecutor | None = None
        if self.is_sqlite:
            direct = create_engine(
                make_url(url).set(drivername="sqlite"),
                echo=echo,
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            )
            _configure_sqlite(direct, "BEGIN IMMEDIATE")
            self._direct = sessionmaker(direct, expire_on_commit=False)
            self._direct_thread = ThreadPoolExecutor(1, thread_name_prefix="mjbot-db")
        self._reads = async_sessionmaker(self._reader, expire_on_commit=False)
        self._write_gates: dict[asyncio.AbstractEventLoop, WriteGate] = {}
        self._in_flight = 0
        self._idle: asyncio.Event | None = None  # set when the last unit of work ends

    @property
    def where(self) -> str:
        """The database for messages: its file, or its URL without the password."""
        return str(self.path) if self.path else self.engine.url.render_as_string()

    @asynccontextmanager
    async def session(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        """A unit of work that writes. ``urgent``: someone is waiting for it (a command's
        acknowledgement waits for its job row), so on SQLite it goes before this process's
        other waiting writers (see :class:`WriteGate`)."""
        async with self._write_turn(urgent), self._counted():
            with self._faults_typed():
                async with self._sessions() as session, session.begin():
                    yield session

    async def run(
        self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """One unit of work that writes, as a synchronous function of a session
        (:mod:`db.writes`): ``work(session, *args, **kwargs)`` in one transaction.

        On SQLite it runs whole on the database's own thread, so the event loop is waited on
        once, not once per statement: however busy the loop, the transaction (and the write
        turn it holds, which a command's acknowledgement may be waiting for) stays as short
        as SQLite makes it. Elsewhere it runs through the async session.
        """
        return await self._run(False, lambda session: work(session, *args, **kwargs))

    async def run_urgent(
        self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """:meth:`run`, going before this process's other waiting writers (someone is
        waiting for it: a command's acknowledgement waits for its job row)."""
        return await self._run(True, lambda session: work(session, *args, **kwargs))

    async def _run(self, urgent: bool, work: Callable[[Session], T]) -> T:
        if self._direct is None:
            async with self.session(urgent=urgent) as session:
                return await session.run_sync(work)
        direct = self._direct

        def unit() -> T:
            with direct() as session, session.begin():
                return work(session)

        async with self._write_turn(urgent), self._counted():
            with self._faults_typed():
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._direct_thread, unit)

    @asynccontextmanager
    async def _write_turn(self, urgent: bool) -> AsyncIterator[None]:
        if not self.is_sqlite:
            yield
            return
        loop = asyncio.get_running_loop()
        gate = self._write_gates.get(loop)
        if gate is None:
            self._write_gates = {k: v for k, v in self._write_gates.items() if not k.is_closed()}
            gate = self._write_gates[loop] = WriteGate()
        if not await gate.acquire(urgent, WRITE_GATE_TIMEOUT_S):
            log.warning("waited %.0f s for this process's other writers", WRITE_GATE_TIMEOUT_S)
            yield
            return
        try:
            yield
        finally:
            gate.release()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that only reads: on SQLite it does not wait for writers (nor make
        them wait), so quick answers stay quick while jobs are being recorded."""
        async with self._counted():
            with self._faults_typed():
                async with self._reads() as session, session.begin():
                    yield session

    @asynccontextmanager
    async def _counted(self) -> AsyncIterator[None]:
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0 and self._idle is not None:
                self._idle.set()

    async def migrate(self, *, backup_dir: Path | None = None) -> Path | None:
        """Bring the schema to the newest migration (creating it in an empty database).

        Before a migration changes an existing SQLite database, the database is copied with
        SQLite's online backup API into ``backup_dir`` (default: ``backups/`` beside it);
        returns that copy's path, or ``None`` when nothing needed migrating or the database
        was new. Raises :class:`~db.errors.SchemaTooNewError` for a schema this code does not
        know (written by a newer mjbot).
        """
        from alembic import command
        from alembic.config import Config
        from alembic.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(self.migrations))
        script = ScriptDirectory.from_config(config)
        head = script.get_current_head()

        def current_state(sync_connection: Any) -> tuple[str | None, bool]:
            revision = MigrationContext.configure(sync_connection).get_current_revision()
            return revision, bool(inspect(sync_connection).get_table_names())

        def upgrade(sync_connection: Any) -> None:
            config.attributes["connection"] = sync_connection
            command.upgrade(config, "head")

        with self._faults_typed():
            # 1. Where is the schema now?
            async with self.engine.connect() as connection:
                current, has_tables = await connection.run_sync(current_state)
            if current is not None and current not in {r.revision for r in script.walk_revisions()}:
                raise SchemaTooNewError(self.where, current, head or "none")
            # 2. A copy first, when a migration is about to change existing data.
            backup = None
            if current != head and has_tables and self.path is not None:
                folder = backup_dir or self.path.parent / "backups"
                backup = await asyncio.to_thread(
                    backup_sqlite, self.path, folder, f"before-{head}-from-{current or 'none'}"
                )
                log.info("database backed up to %s before migrating it to %s", backup, head)
            # 3. Migrate.
            async with self.engine.begin() as connection:
                await connection.run_sync(upgrade)
        log.info("database schema is up to date (%s)", self.where)
        return backup

    async def close(self, *, grace_s: float = CLOSE_GRACE_S) -> None:
        """Let units of work in flight finish (up to ``grace_s``), then close the connections.
        Disposing under a running unit of work left it to be cancelled mid-rollback later."""
        if self._in_flight:
            self._idle = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace_s)
        await self.engine.dispose()
        if self._reader is not self.engine:
            await self._reader.dispose()
        if self._direct is not None and self._direct_thread is not None:
            bind = self._direct.kw["bind"]
            await asyncio.get_running_loop().run_in_executor(self._direct_thread, bind.dispose)
            self._direct_thread.shutdown(wait=False)

    @contextmanager
    def _faults_typed(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as error:
            original = error.orig if error.orig is not None else error
            sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
            fault = database_fault(str(original), sqlstate, self.where)
            if fault is None:
                raise
            raise fault from error


class WriteGate:
    """This process's SQLite writers take turns before BEGIN IMMEDIATE: urgent ones first,
    then in arrival order.

    SQLite's own wait for its lock polls with growing sleeps (up to 100 ms): with dozens of
    writers at once (a burst of commands, each admitted, launched, started and finished)
    they overslept each other's commits, and a command's admission queued behind every
    progress write — p99 2 s to acknowledge. Here the turn is handed over at once, and
    admissions go first. Other processes still meet SQLite's lock and its busy timeout.
    """

    def __init__(self) -> None:
        self._held = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    async def acquire(self, urgent: bool, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait for the turn (``False`` after ``timeout`` seconds without it)."""
        if not self._held and not self._waiting:
            self._held = True
            return True
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (0 if urgent else 1, next(self._arrivals), turn))
        try:
            await asyncio.wait_for(asyncio.shield(turn), timeout)
        except TimeoutError:
            if turn.done():  # handed over just as the wait ended: keep it
                return True
            turn.cancel()
            return False
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # handed over to a waiter that is gone: pass it on
            else:
                turn.cancel()
            raise
        return True

    def release(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)
                return
        self._held = False


def _configure_sqlite(engine: AsyncEngine | Engine, begin: str) -> None:
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(sync_engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        # Take over transaction control from the driver, so BEGIN is ours (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock at the start of every writing transaction: a unit of
        # work that counts a user's jobs and then inserts one cannot interleave with another
        # doing the same (so per-user limits hold under concurrent submissions). WAL keeps
        # readers of committed data unblocked meanwhile.
        connection.exec_driver_sql(begin)
