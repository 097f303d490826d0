"""``Database.run``: a hot write as one synchronous unit of work (on SQLite, whole on the
database's own thread: one wait on the event loop instead of one per statement)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.orm import Session

from db import Database, JobKind, JobStatus, Limits, NewImage, NewJob, QueueFullError, User, writes
from db import jobs as repo


def new_job(user: int = 1) -> NewJob:
    return NewJob(id=str(uuid.uuid4()), user_id=user, kind=JobKind.IMAGINE, prompt="a cat")


async def test_limits_hold_when_one_hop_and_session_admissions_race(database: Database) -> None:
    limits = Limits(max_active=3, max_queued=10)

    async def through_session() -> repo.Admission:
        async with database.session(urgent=True) as session:
            return await repo.create_job(session, new_job(user=7), limits)

    submissions = [
        database.run_urgent(writes.create_job, new_job(user=7), limits)
        if i % 2
        else through_session()
        for i in range(40)
    ]
    results = await asyncio.gather(*submissions, return_exceptions=True)
    accepted = [r for r in results if isinstance(r, repo.Admission)]
    assert len(accepted) == 13
    assert sum(isinstance(r, QueueFullError) for r in results) == 27
    assert sorted(a.ahead for a in accepted) == list(range(13))
    async with database.read() as session:
        assert (await repo.active_counts(session, 7)).active == 13


async def test_a_unit_commits_or_rolls_back_whole(database: Database) -> None:
    def insert_then_fail(session: Session, user_id: int) -> None:
        writes.get_or_create_user(session, user_id)
        session.flush()
        raise LookupError("halfway")

    with pytest.raises(LookupError):
        await database.run(insert_then_fail, 41)
    await database.run(writes.get_or_create_user, 42)
    async with database.read() as session:
        assert await session.get(User, 41) is None
        assert await session.get(User, 42) is not None


async def test_record_result_finishes_a_job_and_charges_its_time(database: Database) -> None:
    admission = await database.run_urgent(writes.create_job, new_job(user=3))
    job_id = admission.job.id
    images = [NewImage(0, 64, 64, "a/b.png", "0" * 64, "png", seed=5)]
    await database.run(
        writes.record_result,
        job_id,
        images,
        gpu_seconds=2.5,
        model="builtin:tiny",
        seeds=[5],
        parameters={"effective": {"steps": 4}},
    )
    assert await database.run(writes.mark_delivered, job_id, 99)
    assert not await database.run(writes.mark_delivered, job_id, 100)  # once only
    async with database.read() as session:
        job = await repo.get_job(session, job_id, with_images=True)
        user = await session.get(User, 3)
    assert job.status is JobStatus.DONE
    assert job.attempts == 1  # marked running on the way
    assert (job.seeds, job.model, job.result_message_id) == ([5], "builtin:tiny", 99)
    assert job.parameters["effective"] == {"steps": 4}
    assert [(i.index, i.seed, i.path) for i in job.images] == [(0, 5, "a/b.png")]
    assert user is not None
    assert user.gpu_seconds_fast == pytest.approx(2.5)


async def _loop_turns_during(unit: Callable[[], Awaitable[object]]) -> int:
    """How many turns a busy event loop takes while ``unit`` runs (each turn 5 ms of other
    work, as when a burst of commands keeps the loop busy)."""
    turns = 0
    busy = True

    def other_work() -> None:
        nonlocal turns
        turns += 1
        time.sleep(0.005)
        if busy:
            asyncio.get_running_loop().call_soon(other_work)

    asyncio.get_running_loop().call_soon(other_work)
    await asyncio.sleep(0)
    turns = 0
    await unit()
    busy = False
    return turns


async def test_on_sqlite_a_unit_waits_on_a_busy_loop_once_not_per_statement(
    database: Database,
) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite's one-hop path")
    await database.run(writes.get_or_create_user, 1)  # connections opened, caches warm
    async with database.session() as session:
        await repo.active_counts(session, 1)

    async def through_session() -> None:
        async with database.session(urgent=True) as session:
            await repo.create_job(session, new_job(), None)

    async def one_hop() -> None:
        await database.run_urgent(writes.create_job, new_job(), None)

    per_statement = await _loop_turns_during(through_session)
    hop = await _loop_turns_during(one_hop)
    # Through the async driver every cursor call of every statement waits a loop turn (about
    # 50 here); the one-hop unit waits for the thread's answer (two or three turns).
    assert per_statement >= 15, per_statement
    assert hop <= 5, (hop, per_statement)
