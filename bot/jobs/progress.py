"""A job's waiting message: posting it, editing it as the job progresses, and its previews.

Edits coalesce: however fast the engine reports steps, one edit per job is in flight and it
sends the newest state (Discord would rate-limit a pile-up, and the event loop would drown).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Callable
from typing import Any

import discord
from PIL import Image

from bot import texts
from bot.jobs.records import JobView
from bot.tasks import TaskGroup
from db import Database, writes
from db import jobs as repo
from engine import Progress
from engine.grid import encode_png, preview

__all__ = ["JobMessages", "ProgressRelay"]

log = logging.getLogger(__name__)

PREVIEW_SIDE = 256


class JobMessages:
    """The bot's messages about jobs, in the jobs' channels."""

    def __init__(self, client: discord.Client, db: Database) -> None:
        self.client = client
        self.db = db
        self._waiting: dict[str, int] = {}
        """Waiting message ids known before (or without) reading the row."""

    def channel(self, channel_id: int) -> Any:
        channel = self.client.get_channel(channel_id)
        return channel if channel is not None else self.client.get_partial_messageable(channel_id)

    async def post_waiting(self, view: JobView, buttons: discord.ui.View) -> int:
        """Post ``**prompt** - @user (Waiting to start)`` and record its id."""
        assert view.channel_id is not None  # noqa: S101 - jobs without a channel are not posted
        message = await self.channel(view.channel_id).send(
            texts.waiting_text(view.prompt, view.label, view.user_id),
            view=buttons,
            allowed_mentions=discord.AllowedMentions(users=True),
        )
        self._waiting[view.id] = message.id
        await self.db.run(writes.set_messages, view.id, progress=message.id)
        return int(message.id)

    async def edit_waiting(
        self,
        view: JobView,
        text: str,
        image: Image.Image | None = None,
        *,
        clear_buttons: bool = False,
    ) -> None:
        """Change the job's waiting message (``clear_buttons``: the job ended, ❌ is gone)."""
        message_id = await self._waiting_id(view)
        if view.channel_id is None or message_id is None:
            return
        message = self.channel(view.channel_id).get_partial_message(message_id)
        try:
            if clear_buttons:
                await message.edit(content=text, view=None)
            elif image is None:
                await message.edit(content=text)
            else:
                data = await asyncio.to_thread(_preview_png, image)
                name = f"progress_{view.id}.png"
                await message.edit(
                    content=text, attachments=[discord.File(io.BytesIO(data), filename=name)]
                )
        except discord.NotFound:
            log.info("job %s: its waiting message is gone", view.id)
        except discord.HTTPException as error:
            log.warning("job %s: could not edit its waiting message: %s", view.id, error)

    async def delete(self, channel_id: int, message_id: int) -> None:
        with contextlib.suppress(discord.NotFound):
            await self.channel(channel_id).get_partial_message(message_id).delete()

    def forget(self, job_id: str) -> None:
        self._waiting.pop(job_id, None)

    async def _waiting_id(self, view: JobView) -> int | None:
        # A job may start before its own submission recorded the message (another job's
        # finish started it), so the view can predate the id: then the row has it.
        known = view.progress_message_id or self._waiting.get(view.id)
        if known is None:
            async with self.db.read() as session:
                known = (await repo.get_job(session, view.id)).progress_message_id
        if known is not None:
            self._waiting[view.id] = known
        return known


class ProgressRelay:
    """One job's step reports → throttled edits of its waiting message."""

    def __init__(
        self,
        view: JobView,
        messages: JobMessages,
        tasks: TaskGroup,
        *,
        interval: float,
        on_start: Callable[[], object],
    ) -> None:
        self.view = view
        self.messages = messages
        self.tasks = tasks
        self.interval = interval
        self.on_start = on_start
        self.started = False
        self._last_edit = 0.0
        self._text: str | None = None
        self._preview: Image.Image | None = None
        self._editing: asyncio.Task[Any] | None = None

    def report(self, progress: Progress) -> None:
        """A step finished (on the event loop): maybe edit the message."""
        if not self.started:
            self.started = True
            self.on_start()
        if progress.preview is not None:  # kept until sent, even when later steps bring none
            self._preview = progress.preview
        now = time.monotonic()
        if progress.percent >= 100 or now - self._last_edit < self.interval:
            return
        self._last_edit = now
        view = self.view
        self._text = texts.progress_text(
            view.prompt, view.label, view.user_id, progress.percent, view.mode
        )
        if self._editing is None:
            self._editing = self.tasks.spawn(self._send(), name=f"progress-{view.id}")

    async def _send(self) -> None:
        try:
            while (text := self._text) is not None:
                image, self._text, self._preview = self._preview, None, None
                await self.messages.edit_waiting(self.view, text, image)
        finally:
            self._editing = None

    async def settle(self) -> None:
        """No more edits: drop what waits, let the one in flight land (so it cannot edit a
        message after it was replaced or deleted)."""
        self._text = self._preview = None
        if self._editing is not None:
            await asyncio.wait({self._editing})


def _preview_png(image: Image.Image) -> bytes:
    return encode_png(preview(image, PREVIEW_SIDE))
