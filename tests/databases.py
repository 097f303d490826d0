"""The databases tests run against: SQLite always, PostgreSQL when MJ_TEST_DATABASE_URL names
one (e.g. ``postgresql+asyncpg://user:pw@127.0.0.1:5499/db``; ``.ci/postgres`` starts one).

Without that URL the PostgreSQL variants are skipped, unless MJ_REQUIRE_POSTGRES is set (CI),
where a missing server is a failure: a suite that quietly ran on SQLite alone would pass.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

POSTGRES_URL = os.environ.get("MJ_TEST_DATABASE_URL")
REQUIRED = bool(os.environ.get("MJ_REQUIRE_POSTGRES"))

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not POSTGRES_URL and not REQUIRED,
            reason="set MJ_TEST_DATABASE_URL to run against PostgreSQL (.ci/postgres starts one)",
        ),
    ),
]
"""The values of a ``backend`` parameter: ``"sqlite"`` and ``"postgresql"``."""


def postgres_url() -> str:
    """The test server's URL; fails the test when MJ_REQUIRE_POSTGRES is set without one."""
    if not POSTGRES_URL:
        pytest.fail("MJ_REQUIRE_POSTGRES is set but MJ_TEST_DATABASE_URL is not (see .ci/postgres)")
    return POSTGRES_URL


@asynccontextmanager
async def fresh_postgres_database(prefix: str = "mjbot_e2e") -> AsyncIterator[str]:
    """A new, empty database on the test server for one test (its URL), dropped afterwards
    with whatever is still connected to it (a bot the test killed, say). A database of its
    own, not a schema: the bot under test connects with nothing but a URL, as in production,
    and test runs side by side never meet."""
    server = make_url(postgres_url())
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    # CREATE and DROP DATABASE refuse to run inside a transaction.
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
