"""A ``/describe`` job: the image (fetched once, stored) and the four prompts made from it.

Recorded before the command is acknowledged, like every job; it runs outside the GPU queue
(the describer has its own thread), and is done and delivered as soon as it answers, so
1️⃣–4️⃣, 🔄 and 🎉 work on old messages and after restarts. One that a restart interrupted
is finished by :meth:`Describing.resume`, which posts the answer in the channel.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord

from bot.deps import Deps
from bot.errors import UserError
from bot.fetch import decode_image
from bot.jobs.records import JobView
from bot.jobs.runner import Submission, close_reply
from bot.jobs.spec import ReferenceSpec, Role
from bot.jobs.submit import reply_handle
from bot.ui.routing import ImageContext, Surface
from db import JobKind, JobStatus
from db import jobs as repo
from engine import EngineError

__all__ = ["KEY", "DescribeData", "Describing"]

log = logging.getLogger(__name__)

KEY = "describe"
"""The job parameters' key for this feature's data."""
NUMBERS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣")
EMBED_DESCRIPTION_MAX = 4096

Answer = Callable[..., Awaitable[Any]]
"""Sends or edits the answer: ``answer(embed=…, attachments=…, view=…)`` → message."""


@dataclass(frozen=True, slots=True)
class DescribeData:
    """What a describe job keeps: its image (pending until fetched), seed and prompts."""

    image: ReferenceSpec
    seed: int
    prompts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        image = self.image.to_json()
        del image["role"], image["weight"]
        return {"image": image, "seed": self.seed, "prompts": list(self.prompts)}

    @classmethod
    def of(cls, view: JobView) -> DescribeData:
        data = view.parameters.extra[KEY]
        image = ReferenceSpec.from_json({"role": Role.IMAGE, **data["image"]})
        return cls(image, int(data.get("seed", 0)), tuple(data.get("prompts", ())))


class Describing:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def submission(
        self, interaction: discord.Interaction[Any], data: DescribeData, parent_id: str | None
    ) -> Submission:
        url = data.image.url or ""
        return Submission(
            user_id=interaction.user.id,
            channel_id=interaction.channel_id,
            guild_id=interaction.guild_id,
            kind=JobKind.DESCRIBE,
            prompt=url,
            raw=url,
            spec=None,
            parent_job_id=parent_id,
            reply=reply_handle(interaction),
            extra={KEY: data.to_json()},
        )

    async def run(self, job_id: str, answer: Answer) -> None:
        """Fetch and describe the job's image and record the prompts (unless a run before a
        restart did), then answer with them and record the answer."""
        async with self.deps.db.read() as session:
            view = JobView.of(await repo.get_job(session, job_id))
        data = DescribeData.of(view)
        if not data.prompts:
            try:
                if data.image.pending:
                    image = await self.deps.runner.references.fetch(data.image)
                    data = DescribeData(image, data.seed)
                prompts = await self._describe(data)
            except UserError as refusal:
                await self._set(job_id, JobStatus.FAILED, error=refusal.message)
                await answer(embed=refusal.embed())
                return
            data = DescribeData(data.image, data.seed, tuple(prompts))
            await self._set(job_id, JobStatus.RUNNING)
            await self._set(job_id, JobStatus.DONE, parameters={KEY: data.to_json()})
        file = data.image.file
        assert file is not None  # noqa: S101 - fetched above
        raw = await asyncio.to_thread(self.deps.store.read, file.path, file.sha256)
        name = f"describe_{job_id[:8]}.{file.path.rsplit('.', 1)[-1]}"
        embed = discord.Embed(description=_numbered(data.prompts), colour=0x5865F2)
        embed.set_image(url=f"attachment://{name}")
        buttons = self.deps.routes.view(Surface.DESCRIBE, ImageContext(job_id))
        message = await answer(
            embed=embed, attachments=[discord.File(io.BytesIO(raw), filename=name)], view=buttons
        )
        async with self.deps.db.session() as session:
            await repo.mark_delivered(session, job_id, message.id if message else None)

    async def resume(self, view: JobView) -> None:
        """A describe job a restart interrupted (queued, or described but not answered): finish
        it and answer in its channel."""
        if view.channel_id is None:
            await self._set(view.id, JobStatus.FAILED, error="no channel to answer in")
            return
        channel = self.deps.runner.messages.channel(view.channel_id)

        async def post(**content: Any) -> Any:
            content.setdefault("content", f"<@{view.user_id}>")
            files = content.pop("attachments", None)
            return await channel.send(files=files or discord.utils.MISSING, **content)

        await self.run(view.id, post)
        if view.parameters.reply is not None:
            await close_reply(self.deps.client, view.parameters.reply)

    async def _describe(self, data: DescribeData) -> list[str]:
        file = data.image.file
        assert file is not None  # noqa: S101 - fetched before
        raw = await asyncio.to_thread(self.deps.store.read, file.path, file.sha256)
        picture = await asyncio.to_thread(decode_image, raw)
        try:
            return await self.deps.describer.describe_async(picture, seed=data.seed)
        except EngineError as error:
            log.warning("describe failed: %s", error)
            raise UserError(str(error), title="Describe failed") from None

    async def _set(self, job_id: str, status: JobStatus, **changes: Any) -> None:
        async with self.deps.db.session() as session:
            await repo.transition(session, job_id, status, **changes)


def _numbered(prompts: tuple[str, ...]) -> str:
    text = "\n\n".join(f"{n} {p}" for n, p in zip(NUMBERS, prompts, strict=False))
    return text[:EMBED_DESCRIPTION_MAX]
