"""The tables: users, their /prefer options, jobs (with lineage), images and portraits."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Base",
    "Image",
    "Job",
    "JobKind",
    "JobMode",
    "JobStatus",
    "Portrait",
    "PreferOption",
    "User",
    "Variability",
    "utcnow",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class JobKind(StrEnum):
    IMAGINE = "imagine"
    REROLL = "reroll"
    VARIATION = "variation"
    UPSCALE = "upscale"
    REGION = "region"
    OUTPAINT = "outpaint"
    BLEND = "blend"
    DESCRIBE = "describe"
    TRANSFER = "transfer"
    MIMIC = "mimic"
    TRAINING = "training"
    """``/portrait train``: a face learned as a LoRA."""
    PORTRAIT = "portrait"
    """``/portrait imagine``: ranked portraits of a trained person."""
    RETEXTURE = "retexture"
    BACKGROUND = "background"


class JobMode(StrEnum):
    FAST = "fast"
    RELAX = "relax"
    TURBO = "turbo"


class Variability(StrEnum):
    HIGH = "high"
    LOW = "low"


def _enum(cls: type[StrEnum]) -> Enum:
    # Stored as the values' text (portable, readable in SQL), read back as the enum.
    return Enum(
        cls,
        native_enum=False,
        length=12,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        dict[str, Any]: JSON,
        list[Any]: JSON,
        dt.datetime: DateTime(timezone=True),
    }


class User(Base):
    """A Discord user and their settings."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    mode: Mapped[JobMode] = mapped_column(_enum(JobMode), default=JobMode.FAST)
    remix: Mapped[bool] = mapped_column(Boolean, default=False)
    variability: Mapped[Variability] = mapped_column(_enum(Variability), default=Variability.HIGH)
    default_version: Mapped[str | None] = mapped_column(String(16), default=None)
    stylize: Mapped[int | None] = mapped_column(Integer, default=None)
    raw: Mapped[bool] = mapped_column(Boolean, default=False)
    suffix: Mapped[str] = mapped_column(Text, default="")
    gpu_seconds_fast: Mapped[float] = mapped_column(Float, default=0.0)
    gpu_seconds_relax: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    options: Mapped[list[PreferOption]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="raise"
    )


class PreferOption(Base):
    """A ``/prefer option`` macro: ``--name`` expands to ``value``."""

    __tablename__ = "prefer_options"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(Text)

    user: Mapped[User] = relationship(back_populates="options", lazy="raise")


class Job(Base):
    """One unit of GPU (or no-GPU) work and everything needed to reproduce and deliver it."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_user_status", "user_id", "status"),
        Index("ix_jobs_status", "status"),
        Index("ix_jobs_parent", "parent_job_id"),
        Index("ix_jobs_progress_message", "progress_message_id"),
        Index("ix_jobs_result_message", "result_message_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    guild_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    channel_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    kind: Mapped[JobKind] = mapped_column(_enum(JobKind))
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus), default=JobStatus.QUEUED)
    raw_prompt: Mapped[str] = mapped_column(Text, default="")
    prompt: Mapped[str] = mapped_column(Text, default="")
    """The canonical echo shown in Discord messages."""
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The effective parameters, enough to reproduce the job."""
    model: Mapped[str | None] = mapped_column(String(255), default=None)
    seeds: Mapped[list[Any]] = mapped_column(default=list)
    mode: Mapped[JobMode] = mapped_column(_enum(JobMode), default=JobMode.FAST)
    parent_job_id: Mapped[str | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), default=None
    )
    parent_index: Mapped[int | None] = mapped_column(Integer, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    gpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    result_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)

    images: Mapped[list[Image]] = relationship(
        back_populates="job",
        order_by="Image.index",
        lazy="raise",
        cascade="all, delete-orphan",
    )


class Image(Base):
    """One image of a job, stored content-addressed on disk."""

    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("job_id", "index", name="uq_images_job_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int | None] = mapped_column(BigInteger, default=None)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(8))

    job: Mapped[Job] = relationship(back_populates="images", lazy="raise")


class Portrait(Base):
    """A person a user taught the bot (``/portrait train``): the face LoRA's record. Its files
    (LoRA, best crop, metadata) are in ``MJ_DATA_DIR/portraits/<user_id>/<name>/``."""

    __tablename__ = "portraits"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_portraits_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))
    token: Mapped[str] = mapped_column(String(32))
    base_model: Mapped[str] = mapped_column(String(255))
    steps: Mapped[int] = mapped_column(Integer)
    photos: Mapped[list[Any]] = mapped_column(default=list)
    """SHA-256 of each photo it learned from (never the photos)."""
    job_id: Mapped[str | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), default=None
    )
    """The training job."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
