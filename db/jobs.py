"""Jobs: admission with per-user limits, the status lifecycle, images, delivery, lineage.

Each function is one step of a unit of work; call it inside ``async with db.session()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import writes
from db.errors import JobNotFoundError
from db.job_types import (
    ACTIVE,
    TRANSITIONS,
    Admission,
    Counts,
    Limits,
    Lineage,
    NewImage,
    NewJob,
)
from db.models import Image, Job, JobStatus, utcnow

__all__ = [
    "ACTIVE",
    "TRANSITIONS",
    "Admission",
    "Counts",
    "Limits",
    "Lineage",
    "NewImage",
    "NewJob",
    "active_counts",
    "active_jobs",
    "attach_images",
    "create_job",
    "get_job",
    "history",
    "job_by_message",
    "lifetime_images",
    "lineage",
    "mark_delivered",
    "queued",
    "recent_images",
    "record_instant_job",
    "set_messages",
    "transition",
]


async def create_job(session: AsyncSession, new: NewJob, limits: Limits | None = None) -> Admission:
    """Insert a queued job, first checking the user's limits atomically (see
    :func:`db.writes.create_job`; ``db.run(writes.create_job, ...)`` is the one-hop form)."""
    return await session.run_sync(writes.create_job, new, limits)


async def get_job(session: AsyncSession, job_id: str, *, with_images: bool = False) -> Job:
    return await session.run_sync(writes.get_job, job_id, with_images=with_images)


async def transition(
    session: AsyncSession,
    job_id: str,
    status: JobStatus,
    *,
    error: str | None = None,
    gpu_seconds: float | None = None,
    model: str | None = None,
    seeds: Sequence[int] | None = None,
    parameters: dict[str, Any] | None = None,
) -> Job:
    """Move a job to ``status``; raises :class:`IllegalTransitionError` when not allowed."""
    return await session.run_sync(
        writes.transition,
        job_id,
        status,
        error=error,
        gpu_seconds=gpu_seconds,
        model=model,
        seeds=seeds,
        parameters=parameters,
    )


async def attach_images(session: AsyncSession, job_id: str, images: Sequence[NewImage]) -> None:
    """Record a job's images (their files must already be written)."""
    await session.run_sync(writes.attach_images, job_id, images)


async def active_counts(session: AsyncSession, user_id: int) -> Counts:
    return await session.run_sync(writes.active_counts, user_id)


async def record_instant_job(session: AsyncSession, new: NewJob) -> Job:
    """Record work that finished at once, outside the GPU queue (``/describe``): inserted
    done and delivered, so recovery neither re-runs nor re-delivers it."""
    now = utcnow()
    await session.run_sync(writes.lock_user, new.user_id)
    job = writes.new_job_row(
        new,
        status=JobStatus.DONE,
        queued_at=now,
        started_at=now,
        finished_at=now,
        delivered=True,
    )
    session.add(job)
    await session.flush()
    return job


async def job_by_message(session: AsyncSession, message_id: int) -> Job:
    """The job whose progress or result message this is."""
    query = select(Job).where(
        or_(Job.result_message_id == message_id, Job.progress_message_id == message_id)
    )
    job = (await session.execute(query.limit(1))).scalar_one_or_none()
    if job is None:
        raise JobNotFoundError(f"no job for message {message_id}")
    return job


async def set_messages(
    session: AsyncSession, job_id: str, *, progress: int | None = None, result: int | None = None
) -> None:
    await session.run_sync(writes.set_messages, job_id, progress=progress, result=result)


async def mark_delivered(session: AsyncSession, job_id: str, message_id: int | None = None) -> bool:
    """Record delivery; ``False`` when the job was already delivered (so nobody delivers
    twice: the conditional update decides, even between processes)."""
    return await session.run_sync(writes.mark_delivered, job_id, message_id)


async def active_jobs(session: AsyncSession, user_id: int) -> list[Job]:
    """The user's queued and running jobs, oldest first."""
    query = select(Job).where(Job.user_id == user_id, Job.status.in_(ACTIVE))
    return list((await session.execute(query.order_by(Job.queued_at))).scalars())


async def lineage(session: AsyncSession, job_id: str) -> Lineage:
    job = await get_job(session, job_id)
    ancestors: list[Job] = []
    parent_id = job.parent_job_id
    seen = {job.id}
    while parent_id is not None and parent_id not in seen:
        seen.add(parent_id)
        parent = await session.get(Job, parent_id)
        if parent is None:
            break
        ancestors.append(parent)
        parent_id = parent.parent_job_id
    ancestors.reverse()
    children = (
        await session.execute(
            select(Job).where(Job.parent_job_id == job_id).order_by(Job.queued_at)
        )
    ).scalars()
    return Lineage(ancestors, list(children))


async def history(
    session: AsyncSession,
    user_id: int,
    *,
    limit: int = 20,
    statuses: Sequence[JobStatus] | None = None,
) -> list[Job]:
    """The user's most recent jobs, newest first."""
    query = select(Job).where(Job.user_id == user_id)
    if statuses:
        query = query.where(Job.status.in_(statuses))
    rows = await session.execute(query.order_by(Job.queued_at.desc()).limit(limit))
    return list(rows.scalars())


async def recent_images(
    session: AsyncSession, user_id: int, *, limit: int = 24
) -> list[tuple[Job, Image]]:
    """The user's images from finished jobs, newest job first (its images in order)."""
    query = (
        select(Job, Image)
        .join(Image, Image.job_id == Job.id)
        .where(Job.user_id == user_id, Job.status == JobStatus.DONE)
        .order_by(Job.queued_at.desc(), Image.index)
        .limit(limit)
    )
    return [(job, image) for job, image in (await session.execute(query)).all()]


async def queued(session: AsyncSession, user_id: int | None = None) -> list[Job]:
    """Queued jobs, oldest first (one user's, or everyone's)."""
    query = select(Job).where(Job.status == JobStatus.QUEUED)
    if user_id is not None:
        query = query.where(Job.user_id == user_id)
    return list((await session.execute(query.order_by(Job.queued_at))).scalars())


async def lifetime_images(session: AsyncSession, user_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Image).join(Job).where(Job.user_id == user_id)
    )
    return int(count or 0)
