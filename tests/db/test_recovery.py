"""Recovery after a crash: a real process killed between (and inside) units of work."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from db import Database, Job, JobStatus, recover
from tests.databases import BACKENDS, postgres_url
from tests.db.conftest import sqlite_url

ROOT = Path(__file__).resolve().parents[2]


def crash_a_process(url: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.db.crash_worker", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    return dict(line.split("=", 1) for line in result.stdout.split())


@pytest.mark.parametrize("backend", BACKENDS)
async def test_recovery_after_a_killed_process(tmp_path: Path, backend: str) -> None:
    url = sqlite_url(tmp_path / "crash.db") if backend == "sqlite" else postgres_url()
    if backend == "postgresql":
        wipe = Database(url)
        async with wipe.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await wipe.close()
    ids = crash_a_process(url)
    db = Database(url)
    await db.migrate()
    async with db.session() as session:
        plan = await recover(session, max_attempts=3)
    async with db.session() as session:
        jobs = {j.prompt: j for j in (await session.execute(select(Job))).scalars()}
        if backend == "sqlite":
            check = (await session.execute(text("PRAGMA integrity_check"))).scalar()
            assert check == "ok"
    await db.close()
    # The transaction the process died in left nothing: no job E, C still queued.
    assert "E" not in jobs
    assert jobs["C"].status is JobStatus.QUEUED
    assert jobs["C"].attempts == 0
    # The job it was running goes back to the queue, its attempt counted.
    assert jobs["B"].status is JobStatus.QUEUED
    assert jobs["B"].attempts == 1
    # A job interrupted as often as allowed fails instead of looping forever.
    assert jobs["D"].status is JobStatus.FAILED
    assert "interrupted 3 times" in (jobs["D"].error or "")
    # What to do now: run B and C again (oldest first), deliver A, tell D's user.
    assert [j.id for j in plan.resubmit] == [ids["B"], ids["C"]]
    assert [j.id for j in plan.deliver] == [ids["A"]]
    assert [j.id for j in plan.failed] == [ids["D"]]


async def test_recovery_twice_changes_nothing_more(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "twice.db")
    crash_a_process(url)
    db = Database(url)
    async with db.session() as session:
        first = await recover(session)
    async with db.session() as session:
        second = await recover(session)
    await db.close()
    assert [j.id for j in second.resubmit] == [j.id for j in first.resubmit]
    assert second.failed == []
