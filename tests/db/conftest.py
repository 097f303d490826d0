"""A fresh database per test: a real SQLite file, and PostgreSQL too when
``MJ_TEST_DATABASE_URL`` points at one (see tests/databases.py; its ``public`` schema is wiped
before each test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from db import Database
from tests.databases import BACKENDS, postgres_url


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path / "mjbot.db"))
    else:
        db = Database(postgres_url())
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    await db.migrate()
    yield db
    await db.close()
