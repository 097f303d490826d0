"""Connecting: the async engine, SQLite pragmas, sessions, and migrations on start."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

__all__ = ["Database", "default_url"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
MIGRATIONS = Path(__file__).parent / "migrations"


def default_url(data_dir: Path) -> str:
    """SQLite in the data folder (``DATA_DIR/mjbot.db``)."""
    return f"sqlite+aiosqlite:///{(data_dir / 'mjbot.db').resolve()}"


class Database:
    """One async engine and its session factory; ``async with db.session()`` is one unit of
    work (one transaction, committed on success, rolled back on error)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
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
        self._reads = async_sessionmaker(self._reader, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that only reads: on SQLite it does not wait for writers (nor make
        them wait), so quick answers stay quick while jobs are being recorded."""
        async with self._reads() as session, session.begin():
            yield session

    async def migrate(self) -> None:
        """Bring the schema to the newest migration (creating it in an empty database)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        async with self.engine.begin() as connection:

            def upgrade(sync_connection: Any) -> None:
                config.attributes["connection"] = sync_connection
                command.upgrade(config, "head")

            await connection.run_sync(upgrade)
        log.info("database schema is up to date (%s)", self.engine.url.render_as_string())

    async def close(self) -> None:
        await self.engine.dispose()
        if self._reader is not self.engine:
            await self._reader.dispose()


def _configure_sqlite(engine: AsyncEngine, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        # Take over transaction control from the driver, so BEGIN is ours (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock at the start of every writing transaction: a unit of
        # work that counts a user's jobs and then inserts one cannot interleave with another
        # doing the same (so per-user limits hold under concurrent submissions). WAL keeps
        # readers of committed data unblocked meanwhile.
        connection.exec_driver_sql(begin)
