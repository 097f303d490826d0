"""Before a migration changes an existing database, an online backup; never a migration
without one (issue 13, item 4)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

import db.database
from db import Database, DiskFullError, JobKind, NewJob, backups_of
from db import jobs as repo
from db.database import MIGRATIONS
from tests.db.conftest import sqlite_url

NEXT_MIGRATION = '''"""Test-only: a second revision that changes the schema.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("notes")
'''


@pytest.fixture
def newer_migrations(tmp_path: Path) -> Path:
    """This code's migrations plus a revision 0003, as the next release would ship them."""
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "0003_notes.py").write_text(NEXT_MIGRATION, encoding="utf-8")
    return folder


async def database_at_0002(path: Path, jobs: int) -> None:
    old = Database(sqlite_url(path))
    await old.migrate()
    for i in range(jobs):
        async with old.session() as session:
            await repo.create_job(session, NewJob(f"job-{i}", 1, JobKind.IMAGINE, prompt=f"p{i}"))
    await old.close()


def revision(path: Path) -> str:
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as connection:
        (version,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    connection.close()
    return str(version)


def job_count(path: Path) -> int:
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as connection:
        (count,) = connection.execute("SELECT count(*) FROM jobs").fetchone()
    connection.close()
    return int(count)


async def test_backup_is_made_before_a_migration_changes_the_database(
    tmp_path: Path, newer_migrations: Path
) -> None:
    path = tmp_path / "mjbot.db"
    await database_at_0002(path, jobs=25)
    newer = Database(sqlite_url(path), migrations=newer_migrations)
    backup = await newer.migrate()
    again = await newer.migrate()  # at the newest revision now: nothing to back up
    await newer.close()
    assert backup is not None
    assert backup.parent == tmp_path / "backups"
    assert backups_of(path) == [backup]
    assert again is None
    # the copy is the database as it was: revision 0002, every job, and sound
    assert revision(backup) == "0002"
    assert job_count(backup) == 25
    with sqlite3.connect(backup) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()
    assert backup.name.endswith("-before-0003-from-0002.db")
    # and the database itself moved on
    assert revision(path) == "0003"
    assert job_count(path) == 25


async def test_backup_is_not_made_for_a_new_database(tmp_path: Path) -> None:
    fresh = Database(sqlite_url(tmp_path / "mjbot.db"))
    assert await fresh.migrate() is None
    await fresh.close()
    assert not (tmp_path / "backups").exists()


async def test_backup_failure_stops_the_migration(
    tmp_path: Path, newer_migrations: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mjbot.db"
    await database_at_0002(path, jobs=3)

    def disk_full(source: Path, folder: Path, label: str) -> Path:
        raise DiskFullError(folder, "the server's disk is full", "No space left on device")

    monkeypatch.setattr(db.database, "backup_sqlite", disk_full)
    newer = Database(sqlite_url(path), migrations=newer_migrations)
    with pytest.raises(DiskFullError):
        await newer.migrate()
    await newer.close()
    assert revision(path) == "0002"  # no backup, no migration
