"""A finished training job: the portrait's row recorded, then the aligned crops posted with
how to use it (no buttons: the crops are no picture to vary).

Called by the delivery (``Delivery.add_poster``) after the job's result is stored: the row
first (again after a restart until the post is recorded, so it is an upsert), then the post.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import discord

from bot import texts
from bot.deps import Deps
from bot.jobs.records import JobParameters, JobView
from bot.jobs.spec import FaceTraining
from db import Job
from db import portraits as portraits_db

__all__ = ["TrainedPoster"]


class TrainedPoster:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def record(self, job: Job) -> None:
        """The portrait's row (an upsert: again after a restart changes nothing)."""
        work = _training(job)
        details = job.parameters.get("effective", {}).get("portrait", {})
        async with self.deps.db.session() as session:
            await portraits_db.save_portrait(
                session,
                portraits_db.NewPortrait(
                    user_id=job.user_id,
                    name=work.name,
                    token=str(details.get("token", "")),
                    base_model=job.model or "",
                    steps=int(details.get("steps", 0)),
                    photos=[photo.sha256 for photo in work.photos],
                    job_id=job.id,
                ),
            )

    async def __call__(self, job: Job, channel: Any, limit: int, nonce: str) -> Any:
        work = _training(job)
        label = JobParameters.from_json(job.parameters).label
        text = texts.final_text(job.prompt, label, job.user_id, str(job.mode))
        text += f"\nReady: `/portrait imagine name:{work.name}` (the aligned crops it learned)"
        first = job.images[0]
        delivery = self.deps.runner.delivery
        [encoded] = await asyncio.to_thread(
            delivery.encode_each, [(first.path, first.sha256)], limit
        )
        return await channel.send(
            text,
            file=discord.File(
                io.BytesIO(encoded.data), filename=f"crops_{job.id}{encoded.extension}"
            ),
            nonce=nonce,
            allowed_mentions=discord.AllowedMentions(users=True),
        )


def _training(job: Job) -> FaceTraining:
    work = JobView.of(job).spec.work
    if not isinstance(work, FaceTraining):
        raise TypeError(f"job {job.id} is no face training")
    return work
