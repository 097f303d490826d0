"""The hot writes as synchronous functions of a :class:`~sqlalchemy.orm.Session`.

A command's admission and a job's result are written while the event loop is at its busiest
(a burst of commands, the GPU delivering). Through the async driver every statement is a
round trip through the loop, which waits behind everything else queued on it: a five-
statement transaction then held SQLite's write turn for five loop backlogs, and each
acknowledgement waited behind it. Written as plain functions, :meth:`db.Database.run` runs
one whole on the database's own thread (one round trip for the transaction); inside an async
unit of work the same functions run through ``await session.run_sync(...)``, which is how the
async repository (:mod:`db.jobs`, :mod:`db.users`) calls them — one implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from db.errors import IllegalTransitionError, JobNotFoundError, QueueFullError
from db.job_types import ACTIVE, TRANSITIONS, Admission, Counts, Limits, NewImage, NewJob
from db.models import Image, Job, JobMode, JobStatus, User, utcnow

__all__ = [
    "TURBO_COST",
    "active_counts",
    "add_gpu_seconds",
    "attach_images",
    "create_job",
    "get_job",
    "get_or_create_user",
    "lock_user",
    "mark_delivered",
    "mark_running",
    "new_job_row",
    "record_result",
    "set_messages",
    "transition",
]

TURBO_COST = 2.0
"""Turbo jobs count double against fast time, as in Midjourney."""


def get_or_create_user(session: Session, user_id: int) -> User:
    """The user row, inserted with default settings on first sight (race-free)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(User).values(id=user_id).on_conflict_do_nothing())
    user = session.get(User, user_id)
    assert user is not None  # noqa: S101 - inserted just above
    return user


def lock_user(session: Session, user_id: int) -> User:
    """The user row, locked until the transaction ends (PostgreSQL; SQLite's transactions
    already hold the database's write lock), so per-user checks and writes are atomic."""
    get_or_create_user(session, user_id)
    return session.execute(select(User).where(User.id == user_id).with_for_update()).scalar_one()


def add_gpu_seconds(session: Session, user_id: int, mode: JobMode, seconds: float) -> None:
    user = get_or_create_user(session, user_id)
    if mode is JobMode.RELAX:
        user.gpu_seconds_relax += seconds
    else:
        user.gpu_seconds_fast += seconds * (TURBO_COST if mode is JobMode.TURBO else 1.0)


def get_job(session: Session, job_id: str, *, with_images: bool = False) -> Job:
    query = select(Job).where(Job.id == job_id)
    if with_images:
        query = query.options(selectinload(Job.images))
    job = session.execute(query).scalar_one_or_none()
    if job is None:
        raise JobNotFoundError(f"no job {job_id}")
    return job


def active_counts(session: Session, user_id: int) -> Counts:
    rows = session.execute(
        select(Job.status, func.count())
        .where(Job.user_id == user_id, Job.status.in_(ACTIVE))
        .group_by(Job.status)
    )
    found: dict[JobStatus, int] = dict(rows.all())
    return Counts(found.get(JobStatus.QUEUED, 0), found.get(JobStatus.RUNNING, 0))


def create_job(session: Session, new: NewJob, limits: Limits | None = None) -> Admission:
    """Insert a queued job, first checking the user's limits atomically (the user row is
    locked for the transaction, so concurrent submissions cannot exceed them)."""
    lock_user(session, new.user_id)
    counts = active_counts(session, new.user_id)
    if limits is not None and counts.active >= limits.max_active + limits.max_queued:
        raise QueueFullError(counts.active, limits.max_active + limits.max_queued)
    job = new_job_row(new, status=JobStatus.QUEUED, queued_at=utcnow())
    session.add(job)
    session.flush()
    held = limits is not None and counts.active >= limits.max_active
    return Admission(job, held, counts.active)


def new_job_row(new: NewJob, **state: Any) -> Job:
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


def transition(
    session: Session,
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
    job = get_job(session, job_id)
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
        add_gpu_seconds(session, job.user_id, job.mode, gpu_seconds)
    return job


def attach_images(session: Session, job_id: str, images: Sequence[NewImage]) -> None:
    """Record a job's images (their files must already be written)."""
    get_job(session, job_id)
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
    session.flush()


def mark_running(session: Session, job_id: str) -> None:
    """A job the engine started (unless something else already moved it on)."""
    if get_job(session, job_id).status is JobStatus.QUEUED:
        transition(session, job_id, JobStatus.RUNNING)


def set_messages(
    session: Session, job_id: str, *, progress: int | None = None, result: int | None = None
) -> None:
    job = get_job(session, job_id)
    if progress is not None:
        job.progress_message_id = progress
    if result is not None:
        job.result_message_id = result


def mark_delivered(session: Session, job_id: str, message_id: int | None = None) -> bool:
    """Record delivery; ``False`` when the job was already delivered (so nobody delivers
    twice: the conditional update decides, even between processes)."""
    values: dict[str, Any] = {"delivered": True}
    if message_id is not None:
        values["result_message_id"] = message_id
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.delivered.is_(False), Job.status == JobStatus.DONE)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def record_result(
    session: Session,
    job_id: str,
    images: Sequence[NewImage],
    *,
    gpu_seconds: float,
    model: str,
    seeds: Sequence[int],
    parameters: dict[str, Any],
) -> None:
    """A finished job: done (through running, if it never was marked so), with its GPU time
    charged and its images recorded (their files already written)."""
    mark_running(session, job_id)
    transition(
        session,
        job_id,
        JobStatus.DONE,
        gpu_seconds=gpu_seconds,
        model=model,
        seeds=seeds,
        parameters=parameters,
    )
    attach_images(session, job_id, images)
