"""Start-up: a damaged database is refused and never written; new, locked, too-new databases.

Which damage went unnoticed before (measured on the previous code, a start that migrates,
recovers and admits jobs): garbage pages among old jobs, which start-up does not read — it
started and wrote new jobs into the damaged file; and with a write-ahead log left by a crash,
a start refused for damage still wrote the log into the file as its connection closed. Half
a file was refused (with a raw DatabaseError). ``PRAGMA quick_check`` finds all of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from db import (
    Database,
    DatabaseCorruptError,
    DatabaseLockedError,
    Job,
    JobKind,
    JobStatus,
    NewImage,
    NewJob,
    SchemaTooNewError,
    open_database,
)
from db import jobs as repo
from tests.db.conftest import sqlite_url

PAGE = 4096
JOBS = 200


async def populate(path: Path) -> None:
    """A database as a running bot leaves it: most jobs done and delivered, one queued."""
    rng = random.Random(7)
    db = Database(sqlite_url(path))
    await db.migrate()
    for i in range(JOBS):
        job_id = str(uuid.UUID(int=rng.getrandbits(128)))
        async with db.session() as session:
            new = NewJob(job_id, i % 9, JobKind.IMAGINE, prompt="a lighthouse at dusk " * 8)
            await repo.create_job(session, new)
            if i < JOBS - 1:
                await repo.transition(session, job_id, JobStatus.RUNNING)
                await repo.transition(session, job_id, JobStatus.DONE)
                images = [
                    NewImage(k, 64, 64, f"images/{job_id}-{k}.png", "0" * 64, "png")
                    for k in range(4)
                ]
                await repo.attach_images(session, job_id, images)
                await repo.mark_delivered(session, job_id, 10_000 + i)
    await db.close()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pristine") / "mjbot.db"
    asyncio.run(populate(path))
    return path


def leave_wal(path: Path) -> None:
    """What a crash leaves: commits in the write-ahead log, never checkpointed into the file."""
    code = (
        "import os, signal, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA wal_autocheckpoint=0')\n"
        "c.execute('UPDATE users SET gpu_seconds_fast = gpu_seconds_fast + 1')\n"
        "c.execute(\"UPDATE jobs SET error = 'late' WHERE status = 'done'\")\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=False, timeout=60)
    assert path.with_name(path.name + "-wal").stat().st_size > 0


def garbage(path: Path, first_page: int, pages: int) -> None:
    data = bytearray(path.read_bytes())
    noise = random.Random(first_page).randbytes(pages * PAGE)
    data[first_page * PAGE : (first_page + pages) * PAGE] = noise
    path.write_bytes(bytes(data))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated to half": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    # pages among the oldest jobs: start-up never reads them (went unnoticed before)
    "garbage among old jobs": lambda p: garbage(p, p.stat().st_size // PAGE // 4, 2),
    "garbage in the middle": lambda p: garbage(p, p.stat().st_size // PAGE // 2, 2),
    "garbage header": lambda p: p.write_bytes(
        random.Random(1).randbytes(100) + p.read_bytes()[100:]
    ),
    "not a database": lambda p: p.write_bytes(b"these are not the pages you are looking for" * 99),
}


def fingerprint(folder: Path) -> dict[str, str]:
    """The database's content: the file and its write-ahead log (an empty log is no log).
    The ``-shm`` file is left out: it is SQLite's index of the log, rebuilt by any reader,
    and holds no data."""
    files = [folder / "mjbot.db", folder / "mjbot.db-wal"]
    return {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest()
        for f in files
        if f.exists() and f.stat().st_size > 0
    }


@pytest.mark.parametrize("with_wal", [False, True], ids=["clean", "wal-left"])
@pytest.mark.parametrize("damage", list(DAMAGE))
async def test_startup_refuses_a_damaged_database_and_writes_nothing(
    pristine: Path, tmp_path: Path, damage: str, with_wal: bool
) -> None:
    path = tmp_path / "mjbot.db"
    shutil.copy(pristine, path)
    if with_wal:
        leave_wal(path)
    DAMAGE[damage](path)
    before = fingerprint(tmp_path)
    with pytest.raises(DatabaseCorruptError) as caught:
        await open_database(sqlite_url(path))
    assert fingerprint(tmp_path) == before  # the file and its log: untouched
    message = str(caught.value)
    assert str(path) in message
    assert "did not start" in message
    assert ".recover" in message  # says what to do
    assert caught.value.problems


async def test_startup_damage_message_points_at_the_newest_backup(
    pristine: Path, tmp_path: Path
) -> None:
    path = tmp_path / "mjbot.db"
    shutil.copy(pristine, path)
    (tmp_path / "backups").mkdir()
    for name in ("mjbot-20250101T000000Z-x.db", "mjbot-20260301T000000Z-x.db"):
        shutil.copy(pristine, tmp_path / "backups" / name)
    DAMAGE["garbage among old jobs"](path)
    with pytest.raises(DatabaseCorruptError) as caught:
        await open_database(sqlite_url(path))
    newest = tmp_path / "backups" / "mjbot-20260301T000000Z-x.db"
    assert caught.value.backups[0] == newest
    assert f"cp {newest} {path}" in str(caught.value)


@pytest.mark.parametrize("with_wal", [False, True], ids=["clean", "wal-left"])
async def test_startup_opens_a_healthy_database_with_its_history(
    pristine: Path, tmp_path: Path, with_wal: bool
) -> None:
    path = tmp_path / "mjbot.db"
    shutil.copy(pristine, path)
    if with_wal:
        leave_wal(path)
    db = await open_database(sqlite_url(path))
    async with db.session() as session:
        jobs = await session.scalar(select(func.count()).select_from(Job))
        late = await session.scalar(select(func.count()).where(Job.error == "late"))
    await db.close()
    assert jobs == JOBS
    assert late == (JOBS - 1 if with_wal else 0)  # the log's commits are kept
    assert not (tmp_path / "backups").exists()  # nothing to migrate: no backup


@pytest.mark.parametrize("start", ["missing", "zero-length"])
async def test_startup_missing_or_empty_file_is_a_new_database(tmp_path: Path, start: str) -> None:
    path = tmp_path / "data" / "mjbot.db"  # the folder is created too
    if start == "zero-length":
        path.parent.mkdir()
        path.write_bytes(b"")
    db = await open_database(sqlite_url(path))
    async with db.session() as session:
        version = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    await db.close()
    assert version == "0002"
    assert sqlite3.connect(path).execute("PRAGMA quick_check").fetchone() == ("ok",)


async def test_startup_empty_file_with_a_write_ahead_log_is_damage(tmp_path: Path) -> None:
    path = tmp_path / "mjbot.db"
    path.write_bytes(b"")
    path.with_name("mjbot.db-wal").write_bytes(b"\x37\x7f\x06\x82" + bytes(60))
    before = fingerprint(tmp_path)
    with pytest.raises(DatabaseCorruptError, match="write-ahead log"):
        await open_database(sqlite_url(path))
    assert fingerprint(tmp_path) == before


async def test_startup_says_plainly_when_another_process_holds_the_lock(
    pristine: Path, tmp_path: Path
) -> None:
    path = tmp_path / "mjbot.db"
    shutil.copy(pristine, path)
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(120)\n",
        str(path),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert (await holder.stdout.readline()).strip() == b"locked"
        started = time.monotonic()
        with pytest.raises(DatabaseLockedError) as caught:
            await open_database(sqlite_url(path), lock_timeout=0.5)
        waited = time.monotonic() - started
    finally:
        holder.kill()
        await holder.wait()
    assert str(path) in str(caught.value)
    assert "another mjbot" in str(caught.value)
    assert waited < 10  # before: a raw OperationalError after the 30 s busy timeout


async def test_startup_refuses_a_schema_from_a_newer_mjbot(pristine: Path, tmp_path: Path) -> None:
    path = tmp_path / "mjbot.db"
    shutil.copy(pristine, path)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099'")
    connection.close()
    before = fingerprint(tmp_path)
    with pytest.raises(SchemaTooNewError, match="0099"):
        await open_database(sqlite_url(path))
    assert fingerprint(tmp_path)["mjbot.db"] == before["mjbot.db"]
