"""Jobs: admission with per-user limits, the status lifecycle, images, delivery, lineage.

Each function is one step of a unit of work; call it inside ``async with db.session()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.errors import IllegalTransitionError, JobNotFoundError, QueueFullError
from db.models import Image, Job, JobKind, JobMode, JobStatus, utcnow
from db.users import add_gpu_seconds, lock_user

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
    "record_instant_job",
    "set_messages",
    "transition",
]

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    # back to queued only when recovery re-runs a job that a crash interrupted
    JobStatus.RUNNING: frozenset(
        {JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.QUEUED}
    ),
    JobStatus.DONE: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Per user: ``max_active`` jobs go to the GPU queue at once, ``max_queued`` more wait."""

    max_active: int = 3
    max_queued: int = 10


@dataclass(frozen=True, slots=True)
class NewJob:
    id: str
    user_id: int
    kind: JobKind
    prompt: str = ""
    raw_prompt: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    mode: JobMode = JobMode.FAST
    guild_id: int | None = None
    channel_id: int | None = None
    parent_job_id: str | None = None
    parent_index: int | None = None
    model: str | None = None
    seeds: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class NewImage:
    index: int
    width: int
    height: int
    path: str
    sha256: str
    format: str
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """A created job; ``held`` when the user already had ``max_active`` jobs (it waits for
    one of them to finish: Midjourney's "Job queued"); ``ahead`` counts those jobs."""

    job: Job
    held: bool
    ahead: int


@dataclass(frozen=True, slots=True)
class Counts:
    queued: int
    running: int

    @property
    def active(self) -> int:
        return self.queued + self.running


@dataclass(frozen=True, slots=True)
class Lineage:
    ancestors: list[Job]
    """From the root job down to the parent."""
    children: list[Job]


async def create_job(session: AsyncSession, new: NewJob, limits: Limits | None = None) -> Admission:
    """Insert a queued job, first checking the user's limits atomically (the user row is
    locked for the transaction, so concurrent submissions cannot exceed them)."""
    await lock_user(session, new.user_id)
    counts = await active_counts(session, new.user_id)
    if limits is not None and counts.active >= limits.max_active + limits.max_queued:
        raise QueueFullError(counts.active, limits.max_active + limits.max_queued)
    job = _row(new, status=JobStatus.QUEUED, queued_at=utcnow())
    session.add(job)
    await session.flush()
    held = limits is not None and counts.active >= limits.max_active
    return Admission(job, held, counts.active)


async def record_instant_job(session: AsyncSession, new: NewJob) -> Job:
    """Record work that finished at once, outside the GPU queue (``/describe``): inserted
    done and delivered, so recovery neither re-runs nor re-delivers it."""
    now = utcnow()
    await lock_user(session, new.user_id)
    job = _row(
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


def _row(new: NewJob, **state: Any) -> Job:
    return Job(
        id=new.id,
        user_id=new.user_id,
        kind=new.kind,
        prompt=new.prompt,
        raw_prompt=new.raw_prompt,
        parameters=dict(new.parameters),
        mode=new.mode,
        guild_id=new.guild_id,
        channel_id=new.channel_id,
        parent_job_id=new.parent_job_id,
        parent_index=new.parent_index,
        model=new.model,
        seeds=list(new.seeds),
        **state,
    )


async def get_job(session: AsyncSession, job_id: str, *, with_images: bool = False) -> Job:
    query = select(Job).where(Job.id == job_id)
    if with_images:
        query = query.options(selectinload(Job.images))
    job = (await session.execute(query)).scalar_one_or_none()
    if job is None:
        raise JobNotFoundError(f"no job {job_id}")
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
    job = await get_job(session, job_id)
    if status not in TRANSITIONS[job.status]:
        raise IllegalTransitionError(f"job {job_id} cannot go from {job.status} to {status}")
    now = utcnow()
    job.status = status
    if status is JobStatus.RUNNING:
        job.started_at = now
        job.attempts += 1
    elif status is JobStatus.QUEUED:
        job.started_at = None
    else:
        job.finished_at = now
    if error is not None:
        job.error = error
    if model is not None:
        job.model = model
    if seeds is not None:
        job.seeds = list(seeds)
    if parameters is not None:
        job.parameters = {**job.parameters, **parameters}
    if gpu_seconds is not None:
        job.gpu_seconds = gpu_seconds
        await add_gpu_seconds(session, job.user_id, job.mode, gpu_seconds)
    return job


async def attach_images(session: AsyncSession, job_id: str, images: Sequence[NewImage]) -> None:
    """Record a job's images (their files must already be written)."""
    await get_job(session, job_id)
    for image in images:
        session.add(
            Image(
                job_id=job_id,
                index=image.index,
                seed=image.seed,
                width=image.width,
                height=image.height,
                path=image.path,
                sha256=image.sha256,
                format=image.format,
            )
        )
    await session.flush()


async def set_messages(
    session: AsyncSession, job_id: str, *, progress: int | None = None, result: int | None = None
) -> None:
    job = await get_job(session, job_id)
    if progress is not None:
        job.progress_message_id = progress
    if result is not None:
        job.result_message_id = result


async def mark_delivered(session: AsyncSession, job_id: str, message_id: int | None = None) -> bool:
    """Record delivery; ``False`` when the job was already delivered (so nobody delivers
    twice: the conditional update decides, even between processes)."""
    values: dict[str, Any] = {"delivered": True}
    if message_id is not None:
        values["result_message_id"] = message_id
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.delivered.is_(False), Job.status == JobStatus.DONE)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def active_counts(session: AsyncSession, user_id: int) -> Counts:
    rows = await session.execute(
        select(Job.status, func.count())
        .where(Job.user_id == user_id, Job.status.in_(ACTIVE))
        .group_by(Job.status)
    )
    found: dict[JobStatus, int] = dict(rows.all())
    return Counts(found.get(JobStatus.QUEUED, 0), found.get(JobStatus.RUNNING, 0))


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
