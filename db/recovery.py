"""Start-up recovery: what a crash or restart left behind, put right."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.jobs import transition
from db.models import Job, JobStatus

__all__ = ["DEFAULT_MAX_ATTEMPTS", "RecoveryPlan", "recover"]

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class RecoveryPlan:
    resubmit: list[Job]
    """Queued jobs (including ones a crash interrupted), oldest first: run them again."""
    deliver: list[Job]
    """Finished jobs never delivered: post their results."""
    failed: list[Job]
    """Jobs interrupted too often: now failed; tell their users."""


async def recover(
    session: AsyncSession, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> RecoveryPlan:
    """Requeue jobs left ``running`` (or fail them after ``max_attempts`` starts), and list
    what must be resubmitted and delivered. Run once at start-up, before serving."""
    failed: list[Job] = []
    running = await session.execute(select(Job).where(Job.status == JobStatus.RUNNING))
    for job in running.scalars():
        if job.attempts >= max_attempts:
            await transition(
                session,
                job.id,
                JobStatus.FAILED,
                error=f"interrupted {job.attempts} times; gave up",
            )
            failed.append(job)
            log.warning("job %s failed after %d interrupted attempts", job.id, job.attempts)
        else:
            await transition(session, job.id, JobStatus.QUEUED)
            log.info("job %s was interrupted; queued again", job.id)
    queued = await session.execute(
        select(Job).where(Job.status == JobStatus.QUEUED).order_by(Job.queued_at)
    )
    undelivered = await session.execute(
        select(Job)
        .where(Job.status == JobStatus.DONE, Job.delivered.is_(False))
        .order_by(Job.finished_at)
    )
    return RecoveryPlan(list(queued.scalars()), list(undelivered.scalars()), failed)
