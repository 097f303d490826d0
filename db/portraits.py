"""Portraits: the people users taught the bot (one row per user and name), and what forgetting
one removes from the database.

Each function is one step of a unit of work; call it inside ``async with db.session()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import writes
from db.models import Image, Job, JobKind, JobStatus, Portrait

__all__ = [
    "Forgotten",
    "NewPortrait",
    "file_in_use",
    "forget_portrait",
    "get_portrait",
    "is_training",
    "list_portraits",
    "save_portrait",
    "trains",
]


@dataclass(frozen=True, slots=True)
class NewPortrait:
    user_id: int
    name: str
    token: str
    base_model: str
    steps: int
    photos: Sequence[str]
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What :func:`forget_portrait` removed: whether the row existed, and the stored files
    (``path``, ``sha256``) of the deleted training jobs that no remaining image uses."""

    found: bool
    jobs: int
    files: tuple[tuple[str, str], ...]


async def save_portrait(session: AsyncSession, new: NewPortrait) -> Portrait:
    """Insert or replace (retraining a name) the user's portrait ``new.name``."""
    await session.run_sync(lambda s: writes.get_or_create_user(s, new.user_id))
    portrait = await get_portrait(session, new.user_id, new.name)
    if portrait is None:
        portrait = Portrait(user_id=new.user_id, name=new.name)
        session.add(portrait)
    portrait.token = new.token
    portrait.base_model = new.base_model
    portrait.steps = new.steps
    portrait.photos = list(new.photos)
    portrait.job_id = new.job_id
    await session.flush()
    return portrait


async def get_portrait(session: AsyncSession, user_id: int, name: str) -> Portrait | None:
    query = select(Portrait).where(Portrait.user_id == user_id, Portrait.name == name)
    return (await session.execute(query)).scalar_one_or_none()


async def list_portraits(session: AsyncSession, user_id: int) -> list[Portrait]:
    query = select(Portrait).where(Portrait.user_id == user_id).order_by(Portrait.name)
    return list((await session.execute(query)).scalars())


async def forget_portrait(session: AsyncSession, user_id: int, name: str) -> Forgotten:
    """Delete the portrait's row and the user's training jobs for ``name`` (their rows and
    image rows: the aligned crops of their photos); the files they alone used (the photos,
    the crops) are returned for the caller to delete once this commits."""
    portrait = await get_portrait(session, user_id, name)
    if portrait is not None:
        await session.delete(portrait)
    trainings = [
        job
        for job in (
            await session.execute(
                select(Job).where(Job.user_id == user_id, Job.kind == JobKind.TRAINING)
            )
        ).scalars()
        if trains(job, name)
    ]
    ids = [job.id for job in trainings]
    images = (await session.execute(select(Image).where(Image.job_id.in_(ids)))).scalars()
    candidates = [(image.path, image.sha256) for image in images]
    candidates += [photo for job in trainings for photo in _photos(job)]
    await session.execute(delete(Image).where(Image.job_id.in_(ids)))
    await session.execute(delete(Job).where(Job.id.in_(ids)))
    files = [f for f in dict.fromkeys(candidates) if not await file_in_use(session, f[1])]
    return Forgotten(portrait is not None, len(ids), tuple(files))


def _training(job: Job) -> dict[str, Any]:
    spec = (job.parameters or {}).get("spec") or {}
    training = spec.get("training")
    return training if isinstance(training, dict) else {}


async def is_training(session: AsyncSession, user_id: int, name: str) -> bool:
    """Whether a training of the user's portrait ``name`` is queued or running."""
    query = select(Job).where(
        Job.user_id == user_id,
        Job.kind == JobKind.TRAINING,
        Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
    )
    return any(trains(job, name) for job in (await session.execute(query)).scalars())


def trains(job: Job, name: str) -> bool:
    """Whether ``job`` is a training of the portrait ``name``."""
    return bool(_training(job).get("name") == name)


def _photos(job: Job) -> list[tuple[str, str]]:
    return [(str(p["path"]), str(p["sha256"])) for p in _training(job).get("photos", ())]


async def file_in_use(session: AsyncSession, sha256: str) -> bool:
    """Whether any image row, or any job's recorded references, still names the file."""
    image = await session.scalar(select(Image.id).where(Image.sha256 == sha256).limit(1))
    if image is not None:
        return True
    pattern = f"%{sha256}%"
    job = await session.scalar(
        select(Job.id).where(cast(Job.parameters, String).like(pattern)).limit(1)
    )
    return job is not None
