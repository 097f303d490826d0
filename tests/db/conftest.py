"""A fresh database per test: a real SQLite file, and PostgreSQL too when
``MJ_TEST_DATABASE_URL`` points at one (e.g. ``postgresql+asyncpg://user:pw@host/db``; its
``public`` schema is wiped before each test)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from db import Database

POSTGRES_URL = os.environ.get("MJ_TEST_DATABASE_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not POSTGRES_URL, reason="set MJ_TEST_DATABASE_URL to run against PostgreSQL"
        ),
    ),
]


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path / "mjbot.db"))
    else:
        assert POSTGRES_URL is not None
        db = Database(POSTGRES_URL)
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    await db.migrate()
    yield db
    await db.close()
