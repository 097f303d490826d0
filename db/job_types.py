"""The value types of jobs: limits, new jobs and images, admissions, counts, lineage, and the
status lifecycle (shared by the async repository and the synchronous hot writes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from db.models import Job, JobKind, JobMode, JobStatus

__all__ = [
    "ACTIVE",
    "TRANSITIONS",
    "Admission",
    "Counts",
    "Limits",
    "Lineage",
    "NewImage",
    "NewJob",
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
