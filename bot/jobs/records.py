"""What a job row holds beyond its columns (:class:`JobParameters`), and a detached view of it.

``Job.parameters`` (JSON) keeps the spec, the label shown in messages, the channel's upload
limit, the interaction to answer after a restart, the engine's effective parameters, and any
data a feature keeps with its jobs (``/describe``'s prompts) under its own key.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.errors import UserError
from bot.jobs.spec import JobSpec
from db import Database, Job, JobKind, JobMode, JobNotFoundError
from db import jobs as repo

__all__ = ["JOB_GONE", "JobParameters", "JobView", "ReplyHandle", "load_job"]

JOB_GONE = "That job no longer exists."
INTERACTION_LIFETIME_S = 15 * 60
_OWN_KEYS = frozenset({"spec", "label", "upload_limit", "reply", "effective"})


@dataclass(frozen=True, slots=True)
class ReplyHandle:
    """The interaction a job came from, whose deferred answer ("thinking…") must be closed;
    its token works for 15 minutes."""

    application_id: int
    token: str
    expires: float
    """Unix time after which the token no longer works."""

    @classmethod
    def of(cls, application_id: int, token: str, created: float) -> ReplyHandle:
        return cls(application_id, token, created + INTERACTION_LIFETIME_S)

    @property
    def usable(self) -> bool:
        return time.time() < self.expires - 5

    def to_json(self) -> dict[str, Any]:
        return {"application_id": self.application_id, "token": self.token, "expires": self.expires}


@dataclass(frozen=True, slots=True)
class JobParameters:
    """The typed contents of ``Job.parameters``."""

    spec: JobSpec | None = None
    label: str | None = None
    """``Variations (Strong)``, ``Zoom Out``…: shown as ``<label> by @user``."""
    upload_limit: int | None = None
    """The channel's upload limit, as the interaction told it."""
    reply: ReplyHandle | None = None
    effective: Mapping[str, Any] = field(default_factory=dict)
    """What the engine actually used (steps, guidance, size…), for ✉️."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Data features keep with their jobs, each under its own key (``describe``)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.extra, "label": self.label, "upload_limit": self.upload_limit}
        if self.spec is not None:
            out["spec"] = self.spec.to_json()
        if self.reply is not None:
            out["reply"] = self.reply.to_json()
        if self.effective:
            out["effective"] = dict(self.effective)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobParameters:
        reply = data.get("reply")
        spec = data.get("spec")
        return cls(
            spec=JobSpec.from_json(spec) if spec else None,
            label=data.get("label"),
            upload_limit=data.get("upload_limit"),
            reply=ReplyHandle(**reply) if reply else None,
            effective=data.get("effective") or {},
            extra={k: v for k, v in data.items() if k not in _OWN_KEYS},
        )


@dataclass(frozen=True, slots=True)
class JobView:
    """A job row's data, detached from any database session."""

    id: str
    user_id: int
    channel_id: int | None
    guild_id: int | None
    kind: JobKind
    mode: JobMode
    prompt: str
    raw_prompt: str
    parent_index: int | None
    progress_message_id: int | None
    parameters: JobParameters

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls(
            job.id,
            job.user_id,
            job.channel_id,
            job.guild_id,
            JobKind(job.kind),
            JobMode(job.mode),
            job.prompt,
            job.raw_prompt,
            job.parent_index,
            job.progress_message_id,
            JobParameters.from_json(job.parameters),
        )

    @property
    def label(self) -> str | None:
        return self.parameters.label

    @property
    def spec(self) -> JobSpec:
        """The recipe; jobs without one (``/describe``) are refused as a user mistake."""
        if self.parameters.spec is None:
            raise UserError("That job cannot be changed with this button.")
        return self.parameters.spec


async def load_job(db: Database, job_id: str, *, with_images: bool = False) -> Job:
    """The job a button or form names; a :class:`UserError` when it is gone."""
    try:
        async with db.read() as session:
            return await repo.get_job(session, job_id, with_images=with_images)
    except JobNotFoundError:
        raise UserError(JOB_GONE) from None
