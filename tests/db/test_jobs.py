"""Jobs: admission and limits, lifecycle, images, delivery, lookups, lineage, integrity."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from db import (
    Database,
    IllegalTransitionError,
    Image,
    JobKind,
    JobMode,
    JobNotFoundError,
    JobStatus,
    Limits,
    NewImage,
    NewJob,
    QueueFullError,
    User,
)
from db import jobs as repo


def new_job(user: int = 1, **kwargs: object) -> NewJob:
    return NewJob(
        id=str(uuid.uuid4()),
        user_id=user,
        kind=JobKind.IMAGINE,  # type: ignore[arg-type]
        prompt="a cat --ar 16:9",
        raw_prompt="a  cat —ar 16:9",
        **kwargs,
    )


async def create(db: Database, job: NewJob, limits: Limits | None = None) -> repo.Admission:
    async with db.session() as session:
        return await repo.create_job(session, job, limits)


async def move(db: Database, job_id: str, status: JobStatus, **kwargs: object) -> None:
    async with db.session() as session:
        await repo.transition(session, job_id, status, **kwargs)  # type: ignore[arg-type]


async def test_create_job_records_everything(database: Database) -> None:
    parent = await create(database, new_job(channel_id=5, guild_id=6, seeds=(1, 2, 3, 4)))
    child = new_job(
        user=2,
        parent_job_id=parent.job.id,
        parent_index=2,
        mode=JobMode.RELAX,
        parameters={"aspect": [16, 9]},
    )
    await create(database, child)
    async with database.session() as session:
        stored = await repo.get_job(session, child.id)
        user = await session.get(User, 2)
    assert stored.status is JobStatus.QUEUED
    assert stored.kind is JobKind.IMAGINE
    assert stored.mode is JobMode.RELAX
    assert (stored.parent_job_id, stored.parent_index) == (parent.job.id, 2)
    assert stored.parameters == {"aspect": [16, 9]}
    assert stored.queued_at is not None
    assert user is not None


async def test_limits_hold_then_refuse(database: Database) -> None:
    limits = Limits(max_active=3, max_queued=2)
    admissions = [await create(database, new_job(), limits) for _ in range(5)]
    assert [a.held for a in admissions] == [False, False, False, True, True]
    assert [a.ahead for a in admissions] == [0, 1, 2, 3, 4]
    with pytest.raises(QueueFullError) as caught:
        await create(database, new_job(), limits)
    assert (caught.value.active, caught.value.limit) == (5, 5)
    # another user is not affected; a finished job frees a place
    assert not (await create(database, new_job(user=9), limits)).held
    await move(database, admissions[0].job.id, JobStatus.RUNNING)
    await move(database, admissions[0].job.id, JobStatus.DONE)
    assert (await create(database, new_job(), limits)).held


async def test_limits_hold_under_50_concurrent_submissions(database: Database) -> None:
    limits = Limits(max_active=3, max_queued=10)
    results = await asyncio.gather(
        *(create(database, new_job(user=7), limits) for _ in range(50)), return_exceptions=True
    )
    accepted = [r for r in results if isinstance(r, repo.Admission)]
    refused = [r for r in results if isinstance(r, QueueFullError)]
    assert len(accepted) == 13
    assert len(refused) == 37
    assert sorted(a.ahead for a in accepted) == list(range(13))
    assert sum(not a.held for a in accepted) == 3
    async with database.session() as session:
        counts = await repo.active_counts(session, 7)
    assert counts.active == 13


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ([JobStatus.RUNNING, JobStatus.DONE], True),
        ([JobStatus.RUNNING, JobStatus.FAILED], True),
        ([JobStatus.RUNNING, JobStatus.CANCELLED], True),
        ([JobStatus.CANCELLED], True),
        ([JobStatus.FAILED], True),
        ([JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DONE], True),
        ([JobStatus.DONE], False),
        ([JobStatus.RUNNING, JobStatus.RUNNING], False),
        ([JobStatus.RUNNING, JobStatus.DONE, JobStatus.RUNNING], False),
        ([JobStatus.CANCELLED, JobStatus.RUNNING], False),
        ([JobStatus.RUNNING, JobStatus.FAILED, JobStatus.QUEUED], False),
    ],
)
async def test_transitions(database: Database, path: list[JobStatus], allowed: bool) -> None:
    job = (await create(database, new_job())).job
    if allowed:
        for status in path:
            await move(database, job.id, status)
    else:
        for status in path[:-1]:
            await move(database, job.id, status)
        with pytest.raises(IllegalTransitionError):
            await move(database, job.id, path[-1])


async def test_transition_records_times_attempts_and_gpu_time(database: Database) -> None:
    job = (await create(database, new_job(user=3, mode=JobMode.TURBO))).job
    await move(database, job.id, JobStatus.RUNNING)
    await move(database, job.id, JobStatus.DONE, gpu_seconds=10.0, model="m", seeds=[1, 2])
    async with database.session() as session:
        done = await repo.get_job(session, job.id)
        user = await session.get(User, 3)
    assert done.attempts == 1
    assert done.started_at is not None
    assert done.finished_at is not None
    assert done.started_at <= done.finished_at
    assert (done.model, done.seeds, done.gpu_seconds) == ("m", [1, 2], 10.0)
    assert user is not None
    assert user.gpu_seconds_fast == 20.0  # turbo counts double


async def test_images_lookup_by_message_and_delivery_once(database: Database) -> None:
    job = (await create(database, new_job())).job
    await move(database, job.id, JobStatus.RUNNING)
    async with database.session() as session:
        await repo.attach_images(
            session,
            job.id,
            [
                NewImage(i, 64, 64, f"images/x/{i}.png", "0" * 64, "png", seed=10 + i)
                for i in range(4)
            ],
        )
        await repo.set_messages(session, job.id, progress=111)
    await move(database, job.id, JobStatus.DONE)
    async with database.session() as session:
        assert (await repo.job_by_message(session, 111)).id == job.id
    delivered = await asyncio.gather(*(_deliver(database, job.id, 222) for _ in range(5)))
    assert delivered.count(True) == 1
    async with database.session() as session:
        stored = await repo.get_job(session, job.id, with_images=True)
        assert (await repo.job_by_message(session, 222)).id == job.id
        assert await repo.lifetime_images(session, job.user_id) == 4
    assert [i.seed for i in stored.images] == [10, 11, 12, 13]
    assert stored.delivered
    with pytest.raises(JobNotFoundError):
        async with database.session() as session:
            await repo.job_by_message(session, 333)


async def _deliver(db: Database, job_id: str, message: int) -> bool:
    async with db.session() as session:
        return await repo.mark_delivered(session, job_id, message)


async def test_undone_jobs_cannot_be_marked_delivered(database: Database) -> None:
    job = (await create(database, new_job())).job
    assert not await _deliver(database, job.id, 1)


async def test_lineage_and_history(database: Database) -> None:
    root = (await create(database, new_job())).job
    child = (await create(database, new_job(parent_job_id=root.id, parent_index=1))).job
    grandchild = (await create(database, new_job(parent_job_id=child.id, parent_index=0))).job
    sibling = (await create(database, new_job(parent_job_id=root.id, parent_index=3))).job
    async with database.session() as session:
        family = await repo.lineage(session, grandchild.id)
        of_root = await repo.lineage(session, root.id)
        recent = await repo.history(session, 1, limit=3)
    assert [j.id for j in family.ancestors] == [root.id, child.id]
    assert [j.id for j in of_root.children] == [child.id, sibling.id]
    assert [j.id for j in recent] == [sibling.id, grandchild.id, child.id]


async def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            session.add(
                Image(
                    job_id="no-such-job",
                    index=0,
                    width=1,
                    height=1,
                    path="p",
                    sha256="0" * 64,
                    format="png",
                )
            )
    with pytest.raises(IntegrityError):
        await create(database, new_job(parent_job_id="no-such-parent"))
    job = (await create(database, new_job())).job
    with pytest.raises(IntegrityError):  # one image per index
        await _add_images(database, job.id, [0, 0])


async def _add_images(db: Database, job_id: str, indexes: list[int]) -> None:
    async with db.session() as session:
        for index in indexes:
            session.add(
                Image(
                    job_id=job_id,
                    index=index,
                    width=1,
                    height=1,
                    path="p",
                    sha256="0" * 64,
                    format="png",
                )
            )


async def test_unknown_job_is_not_found(database: Database) -> None:
    with pytest.raises(JobNotFoundError):
        await move(database, "missing", JobStatus.RUNNING)


async def test_instant_jobs_are_done_delivered_and_left_alone_by_recovery(
    database: Database,
) -> None:
    from dataclasses import replace

    from db import recover

    described = replace(new_job(parameters={"describe": {"prompts": ["a"]}}), kind=JobKind.DESCRIBE)
    async with database.session() as session:
        job = await repo.record_instant_job(session, described)
    assert (job.status, job.delivered) == (JobStatus.DONE, True)
    async with database.session() as session:
        await repo.set_messages(session, described.id, result=99)
        plan = await recover(session, max_attempts=3)
        assert described.id not in {j.id for j in [*plan.resubmit, *plan.deliver, *plan.failed]}
        assert (await repo.active_counts(session, 1)).active == 0
        assert (await repo.job_by_message(session, 99)).id == described.id
