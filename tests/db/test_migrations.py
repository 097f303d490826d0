"""Migrations build the schema from empty, match the models, and are idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from db import Database
from db.models import Base
from tests.db.conftest import sqlite_url


async def test_migrations_from_empty_create_every_table(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "new.db"))
    await db.migrate()
    async with db.engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        version = (
            await connection.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar_one()
    assert {"users", "prefer_options", "jobs", "images", "portraits", "alembic_version"} <= tables
    assert version == "0002"
    await db.migrate()  # a second start changes nothing
    await db.close()


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection)
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "p.db"))
    await db.migrate()
    async with db.engine.connect() as connection:
        journal = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
        keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar_one()
        busy = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
    assert (journal, keys) == ("wal", 1)
    assert busy >= 5000
    await db.close()
