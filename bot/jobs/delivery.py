"""Posting finished work: a job's result (its 2×2 grid or one picture) once, with the buttons
registered for it, under the channel's upload limit; U<n>'s single image; ``/show`` re-posts.

Encoding (grid composition, PNG/WebP to fit the limit) runs in a thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from PIL import Image

from bot import texts
from bot.jobs.progress import JobMessages
from bot.jobs.records import JobParameters
from bot.ui.routing import ImageContext, Routes, Surface
from db import Database, ImageStore, Job, JobKind, User, writes
from db import jobs as repo
from engine.grid import EncodedImage, compose_grid, encode_to_fit

__all__ = ["DM_UPLOAD_LIMIT", "HTTP_TOO_LARGE", "Delivery", "job_nonce"]

log = logging.getLogger(__name__)

DM_UPLOAD_LIMIT = 10 * 1024 * 1024
HISTORY_SEARCH = 100
"""Messages after a job finished searched for its result after a restart."""
HTTP_TOO_LARGE = 413

Poster = Callable[[Job, Any, int, str], Awaitable[Any]]
"""A feature's own result message for its kind of job: ``(job, channel, limit, nonce)`` →
the posted message."""
Recorder = Callable[[Job], Awaitable[None]]
"""What a feature records when a job of its kind is done, before it is posted (again after
a restart until the post is recorded: it must be idempotent)."""


class Delivery:
    def __init__(
        self, db: Database, store: ImageStore, messages: JobMessages, routes: Routes
    ) -> None:
        self.db = db
        self.store = store
        self.messages = messages
        self.routes = routes
        self._posters: dict[JobKind, Poster] = {}
        self._recorders: dict[JobKind, Recorder] = {}

    def add_poster(self, kind: JobKind, poster: Poster, recorder: Recorder | None = None) -> None:
        """Jobs of ``kind`` are delivered by ``poster`` (a training job is no image grid),
        after ``recorder`` has recorded what the feature keeps of them."""
        self._posters[kind] = poster
        if recorder is not None:
            self._recorders[kind] = recorder

    async def deliver(self, job_id: str, *, after_restart: bool = False) -> None:
        """Post a finished job's result with its buttons, once, then drop its waiting message.

        ``after_restart``: the last run may have posted it and crashed before recording that
        (Discord's nonce de-duplication lasts only minutes), so the channel's recent messages
        are searched for it first.
        """
        async with self.db.read() as session:
            job = await repo.get_job(session, job_id, with_images=True)
        if job.delivered or job.channel_id is None:
            return
        if not job.images:
            log.error("job %s is done but has no images: nothing to deliver", job.id)
            return
        recorder = self._recorders.get(JobKind(job.kind))
        if recorder is not None:
            await recorder(job)
        channel = self.messages.channel(job.channel_id)
        message = await self._posted_before(channel, job) if after_restart else None
        if message is None:
            # The interaction told us the channel's upload limit; the guild's boost level is
            # the fallback for jobs that did not come from an interaction.
            parameters = JobParameters.from_json(job.parameters)
            limit = parameters.upload_limit or upload_limit(channel)
            poster = self._posters.get(JobKind(job.kind))
            if poster is not None:
                message = await poster(job, channel, limit, job_nonce(job.id))
            else:
                message = await self.post(job, channel, limit, nonce=job_nonce(job.id))
        await self.db.run(writes.mark_delivered, job.id, message.id)
        if job.progress_message_id is not None:
            await self.messages.delete(job.channel_id, job.progress_message_id)
        self.messages.forget(job.id)

    async def _posted_before(self, channel: Any, job: Job) -> Any:
        """The result message of ``job`` already in ``channel`` (its file is named after the
        job), if the last run posted it; ``None`` when there is none or it cannot be read."""
        me = self.messages.client.user
        finished = job.finished_at or job.queued_at
        if finished.tzinfo is None:  # SQLite hands back naive UTC times
            finished = finished.replace(tzinfo=dt.UTC)
        since = finished - dt.timedelta(minutes=1)
        try:
            async for message in channel.history(limit=HISTORY_SEARCH, after=since):
                mine = me is None or message.author.id == me.id
                if mine and any(job.id in a.filename for a in message.attachments):
                    log.info("job %s: its result was posted before a restart: recorded", job.id)
                    return message
        except discord.HTTPException as error:  # no Read Message History: post (maybe twice)
            log.warning("job %s: cannot read the channel's history (%s)", job.id, error)
        return None

    async def post(self, job: Job, channel: Any, limit: int, *, nonce: str | None = None) -> Any:
        """Post a finished job (loaded with its images) to ``channel`` with fresh buttons: its
        delivery, or a ``/show`` re-post (no ``nonce``: a new message, not the first). If
        Discord still finds it too large (the limit changed), try once more at half the size."""
        async with self.db.read() as session:
            owner = await session.get(User, job.user_id)
        remix = owner is not None and owner.remix
        files = [(i.path, i.sha256) for i in job.images]
        if len(files) == 4:
            buttons = self.routes.view(Surface.GRID, ImageContext(job.id, remix=remix))
        else:
            first = job.images[0]
            upscaled = job.kind == JobKind.UPSCALE
            context = ImageContext(job.id, 1, first.width, first.height, upscaled=upscaled)
            buttons = self.routes.view(Surface.SINGLE, context)
        label = JobParameters.from_json(job.parameters).label
        text = texts.final_text(job.prompt, label, job.user_id, str(job.mode))
        for attempt in range(2):
            encoded = await asyncio.to_thread(self._encode, files, limit)
            name = f"{_slug(job.prompt)}_{job.id}{encoded.extension}"
            try:
                return await channel.send(
                    text,
                    file=discord.File(io.BytesIO(encoded.data), filename=name),
                    view=buttons,
                    nonce=nonce,
                    allowed_mentions=discord.AllowedMentions(users=True),
                )
            except discord.HTTPException as error:
                if error.status != HTTP_TOO_LARGE or attempt:
                    raise
                limit //= 2
        raise AssertionError("unreachable")  # pragma: no cover

    async def post_image(
        self, channel: Any, job: Job, number: int, user_id: int, limit: int
    ) -> Any:
        """U<n>: image ``number`` of a grid alone, full size, with the upscale row (no GPU)."""
        image = next((i for i in job.images if i.index == number - 1), None)
        if image is None:
            return None
        encoded = await asyncio.to_thread(self._encode, [(image.path, image.sha256)], limit)
        context = ImageContext(job.id, number, image.width, image.height)
        return await channel.send(
            texts.single_image_text(job.prompt, number, user_id),
            file=discord.File(
                io.BytesIO(encoded.data), filename=f"{job.id}_{number}{encoded.extension}"
            ),
            view=self.routes.view(Surface.SINGLE, context),
            allowed_mentions=discord.AllowedMentions(users=True),
        )

    def read_image(self, path: str, sha256: str) -> Image.Image:
        """A stored image, verified against its hash (blocking: call in a thread)."""
        from bot.fetch import decode_image

        return decode_image(self.store.read(path, sha256))

    def encode_each(self, files: list[tuple[str, str]], limit: int) -> list[EncodedImage]:
        """Each stored image encoded under ``limit`` bytes (blocking: call in a thread)."""
        return [encode_to_fit(self.read_image(path, sha), limit) for path, sha in files]

    def _encode(self, files: list[tuple[str, str]], limit: int) -> EncodedImage:
        images = [Image.open(io.BytesIO(self.store.read(path, sha))) for path, sha in files]
        picture = compose_grid(images) if len(images) > 1 else images[0]
        return encode_to_fit(picture, limit)


def upload_limit(channel: Any) -> int:
    guild = getattr(channel, "guild", None)
    return int(guild.filesize_limit) if guild is not None else DM_UPLOAD_LIMIT


def job_nonce(job_id: str) -> str:
    # Discord de-duplicates messages with the same nonce: a delivery repeated after a crash
    # between posting and recording it gives the same message, not a second one.
    return job_id.replace("-", "")[:25]


def _slug(prompt: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", prompt.lower().split(" --")[0]).strip("_")
    return words[:48].rstrip("_") or "image"
