"""The life of a job in Discord: admit, queue, render, store, deliver — restart-proof.

The database holds the truth. This service keeps only what is in flight (engine handles and
throttling), and rebuilds it from the database at start-up (recovery). Blocking work (image
encoding, file I/O) runs in threads; the event loop only waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import discord
from PIL import Image

from bot import texts
from bot.buttons import cancel_view
from bot.fetch import Fetcher, decode_image
from bot.jobspec import request_from_spec, source_of, stored_references
from bot.moderation import BannedWords
from bot.results import post_result
from bot.settings import Settings
from bot.tasks import TaskGroup
from db import Database, ImageStore, JobKind, JobMode, JobStatus, Limits, NewImage, NewJob
from db import jobs as repo
from db.errors import StorageError
from db.recovery import recover
from db.users import get_or_create_user
from engine import Engine, EngineError, JobCancelledError, JobHandle, Progress, SpeedMode
from engine.describe import Describer
from engine.grid import encode_png, preview

if TYPE_CHECKING:
    from bot.web.server import EditorServer

__all__ = ["CancelOutcome", "JobService", "JobView"]

log = logging.getLogger(__name__)

DM_UPLOAD_LIMIT = 10 * 1024 * 1024
PREVIEW_SIDE = 256


@dataclass(frozen=True, slots=True)
class JobView:
    """What the service needs of a job row, detached from any database session."""

    id: str
    user_id: int
    channel_id: int | None
    prompt: str
    label: str | None
    mode: str
    kind: str
    progress_message_id: int | None
    spec: dict[str, Any]

    @classmethod
    def of(cls, job: Any) -> JobView:
        return cls(
            job.id,
            job.user_id,
            job.channel_id,
            job.prompt,
            job.parameters.get("label"),
            str(job.mode),
            str(job.kind),
            job.progress_message_id,
            job.parameters.get("spec", {}),
        )


class CancelOutcome(StrEnum):
    """What :meth:`JobService.cancel` did."""

    STOPPED = "stopped"
    """It was waiting for the user's other jobs: cancelled now, its message says so."""
    STOPPING = "stopping"
    """The engine had it: it stops within one step and is then recorded as cancelled."""
    FINISHING = "finishing"
    """Too late: it has rendered and is being stored and delivered."""
    ENDED = "ended"
    """It had already ended (done, failed or cancelled)."""


class JobService:
    def __init__(
        self,
        client: discord.Client,
        settings: Settings,
        db: Database,
        store: ImageStore,
        engine: Engine,
        fetcher: Fetcher,
        banned: BannedWords,
        describer: Describer,
    ) -> None:
        self.client = client
        self.settings = settings
        self.db = db
        self.store = store
        self.engine = engine
        self.fetcher = fetcher
        self.banned = banned
        self.describer = describer
        self.editor: EditorServer | None = None
        """The region editor's web server, once it listens (``None``: unavailable)."""
        self.limits = Limits(settings.mj_max_active_jobs, settings.mj_max_queued_jobs)
        self.accepting = True
        self._handles: dict[str, JobHandle] = {}
        self._views: dict[str, JobView] = {}
        self._user_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last_edit: dict[str, float] = {}
        self._started: set[str] = set()
        self._editing: dict[str, asyncio.Task[Any]] = {}
        self._progress_ids: dict[str, int] = {}
        self._pending_text: dict[str, str] = {}
        self._pending_preview: dict[str, Image.Image] = {}
        self._tasks = TaskGroup()
        self._job_tasks: set[asyncio.Task[Any]] = set()

    # -- start and stop ----------------------------------------------------------------------

    async def recover(self) -> None:
        """Put right what a crash or restart left: requeue, deliver, report failures."""
        async with self.db.session() as session:
            plan = await recover(session, max_attempts=self.settings.mj_max_attempts)
        for job in plan.failed:
            await self._edit_progress(
                JobView.of(job),
                texts.failed_text(
                    job.prompt,
                    job.parameters.get("label"),
                    job.user_id,
                    "interrupted too many times",
                ),
                clear_buttons=True,
            )
        for job in plan.deliver:
            self._tasks.spawn(self.deliver(job.id), name=f"deliver-{job.id}")
        for user_id in dict.fromkeys(job.user_id for job in plan.resubmit):
            await self.pump(user_id)
        log.info(
            "recovered: %d to run, %d to deliver, %d failed",
            len(plan.resubmit),
            len(plan.deliver),
            len(plan.failed),
        )
        self._tasks.spawn(self._report_queue(), name="queue-reporter")

    async def close(self) -> None:
        """Stop accepting; cancel running jobs and record them as queued for the next start."""
        self.accepting = False
        await self.engine.close()
        await self.describer.close()
        finishing = list(self._job_tasks)
        if finishing:  # let them record their state before the rest is cancelled
            await asyncio.wait(finishing, timeout=10)
        await self._tasks.cancel_all()

    # -- admission ---------------------------------------------------------------------------

    async def enqueue(
        self,
        *,
        user_id: int,
        channel_id: int,
        guild_id: int | None,
        kind: JobKind,
        prompt: str,
        raw: str,
        spec: dict[str, Any],
        mode: JobMode,
        label: str | None = None,
        parent_job_id: str | None = None,
        parent_index: int | None = None,
        upload_limit: int | None = None,
        job_id: str | None = None,
    ) -> repo.Admission:
        """Admit a job (raises :class:`~db.QueueFullError`), post its waiting message, and
        start it when the user's limits allow."""
        new = NewJob(
            id=job_id or str(uuid.uuid4()),
            user_id=user_id,
            kind=kind,
            prompt=prompt,
            raw_prompt=raw,
            parameters={"spec": spec, "label": label, "upload_limit": upload_limit},
            mode=mode,
            guild_id=guild_id,
            channel_id=channel_id,
            parent_job_id=parent_job_id,
            parent_index=parent_index,
            seeds=tuple(spec.get("seeds", ())),
        )
        async with self.db.session() as session:
            admission = await repo.create_job(session, new, self.limits)
        message = await self._channel(channel_id).send(
            texts.waiting_text(prompt, label, user_id),
            view=cancel_view(new.id),
            allowed_mentions=discord.AllowedMentions(users=True),
        )
        self._progress_ids[new.id] = message.id  # known before the row says so (see below)
        async with self.db.session() as session:
            await repo.set_messages(session, new.id, progress=message.id)
        await self.pump(user_id)
        return admission

    async def pump(self, user_id: int) -> None:
        """Hand the user's oldest queued jobs to the engine while their limit allows."""
        if not self.accepting:
            return
        async with self._user_locks[user_id]:
            running = sum(1 for view in self._views.values() if view.user_id == user_id)
            room = self.limits.max_active - running
            if room <= 0:
                return
            async with self.db.session() as session:
                waiting = [
                    JobView.of(j)
                    for j in await repo.queued(session, user_id)
                    if j.id not in self._handles
                ]
            for view in waiting[:room]:
                await self._start(view)

    async def cancel(self, job_id: str) -> CancelOutcome:
        """Stop a job (raises :class:`~db.JobNotFoundError`). One held back by the user's
        limit is cancelled here; one the engine has stops within a step, and ``_finish``
        records it. Either way the user's admission counts drop."""
        async with self.db.session() as session:
            user_id = (await repo.get_job(session, job_id)).user_id
        async with self._user_locks[user_id]:  # so pump cannot start it meanwhile
            handle = self._handles.get(job_id)
            if handle is not None:
                stopping = not handle.future.done() and self.engine.cancel(job_id)
                return CancelOutcome.STOPPING if stopping else CancelOutcome.FINISHING
            async with self.db.session() as session:
                job = await repo.get_job(session, job_id)
                if job.status.is_final:
                    return CancelOutcome.ENDED
                if job.status is not JobStatus.QUEUED:  # recorded running, not ours to stop
                    return CancelOutcome.FINISHING
                await repo.transition(session, job_id, JobStatus.CANCELLED)
        log.info("job %s cancelled while held", job_id)
        view = JobView.of(job)
        await self._edit_progress(
            view, texts.stopped_text(view.prompt, view.label, view.user_id), clear_buttons=True
        )
        return CancelOutcome.STOPPED

    def in_engine(self, job_id: str) -> bool:
        """Whether the job was handed to the engine (queued there or rendering)."""
        return job_id in self._handles

    async def _start(self, view: JobView) -> None:
        try:
            source = source_of(view.spec)
            record = await self.image_record(source.job_id, source.index) if source else None
            request = await asyncio.to_thread(self._build_request, view.spec, record)
        except StorageError as error:
            await self._fail(view, f"a stored image it needs is unavailable ({error})")
            return
        handle = self.engine.submit(
            request,
            job_id=view.id,
            user_id=str(view.user_id),
            mode=SpeedMode(view.mode),
            on_progress=lambda p: self._on_progress(view, p),
        )
        self._handles[view.id] = handle
        self._views[view.id] = view
        task = self._tasks.spawn(self._finish(view, handle), name=f"job-{view.id}")
        self._job_tasks.add(task)
        task.add_done_callback(self._job_tasks.discard)

    def _build_request(self, spec: dict[str, Any], record: tuple[str, str] | None) -> Any:
        image = self.read_image(*record) if record is not None else None
        stored_mask = spec.get("mask")
        mask = self.read_image(stored_mask["path"], stored_mask["sha256"]) if stored_mask else None
        references = stored_references(spec, self.read_image)
        return request_from_spec(spec, image, mask, references=references)

    @property
    def public_url(self) -> str:
        """Where users' browsers reach the editor (``MJ_PUBLIC_URL``, else the bound address)."""
        if self.settings.mj_public_url:
            return self.settings.mj_public_url.rstrip("/")
        port = self.editor.port if self.editor is not None else self.settings.mj_web_port
        return f"http://{self.settings.mj_web_host}:{port}"

    def read_image(self, path: str, sha256: str) -> Image.Image:
        """A stored image, verified against its hash (blocking: call in a thread)."""
        return decode_image(self.store.read(path, sha256))

    async def image_record(self, job_id: str, index: int) -> tuple[str, str]:
        """Where image ``index`` (0-based) of a job is stored: ``(path, sha256)``."""
        async with self.db.session() as session:
            job = await repo.get_job(session, job_id, with_images=True)
        for image in job.images:
            if image.index == index:
                return image.path, image.sha256
        raise StorageError(f"job {job_id} has no image {index + 1}")

    # -- rendering ---------------------------------------------------------------------------

    def _on_progress(self, view: JobView, progress: Progress) -> None:
        if view.id not in self._started:
            self._started.add(view.id)
            self._tasks.spawn(self._mark_running(view.id), name=f"running-{view.id}")
        # A preview is kept until it is sent, even when later steps bring none.
        if progress.preview is not None:
            self._pending_preview[view.id] = progress.preview
        now = time.monotonic()
        if progress.percent >= 100:
            return
        if now - self._last_edit.get(view.id, 0.0) < self.settings.mj_progress_interval:
            return
        self._last_edit[view.id] = now
        self._pending_text[view.id] = texts.progress_text(
            view.prompt, view.label, view.user_id, progress.percent, view.mode
        )
        if view.id not in self._editing:  # one edit in flight per job; it sends the latest
            self._editing[view.id] = self._tasks.spawn(
                self._send_progress(view), name=f"progress-{view.id}"
            )

    async def _send_progress(self, view: JobView) -> None:
        """Send the newest progress until none is waiting: however fast the steps come, edits
        never pile up (Discord would rate-limit them, and the event loop would drown)."""
        try:
            while (text := self._pending_text.pop(view.id, None)) is not None:
                image = self._pending_preview.pop(view.id, None)
                await self._edit_progress(view, text, image)
        finally:
            self._editing.pop(view.id, None)

    async def _progress_settled(self, job_id: str) -> None:
        """No more progress edits for this job: drop what waits, let the one in flight land
        (so it cannot edit a message after it is replaced or deleted)."""
        self._pending_text.pop(job_id, None)
        self._pending_preview.pop(job_id, None)
        editing = self._editing.get(job_id)
        if editing is not None:
            await asyncio.wait({editing})

    async def _mark_running(self, job_id: str) -> None:
        async with self.db.session() as session:
            job = await repo.get_job(session, job_id)
            if job.status is JobStatus.QUEUED:
                await repo.transition(session, job_id, JobStatus.RUNNING)

    async def _finish(self, view: JobView, handle: JobHandle) -> None:
        try:
            try:
                result = await handle.future
            finally:
                await self._progress_settled(view.id)
        except JobCancelledError:
            if self.accepting:
                await self._set_status(view.id, JobStatus.CANCELLED)
                await self._edit_progress(
                    view,
                    texts.stopped_text(view.prompt, view.label, view.user_id),
                    clear_buttons=True,
                )
            else:  # shutting down: leave it queued for the next start
                await self._set_status(view.id, JobStatus.QUEUED)
        except EngineError as error:
            log.warning("job %s failed: %s", view.id, error)
            await self._fail(view, str(error))
        else:
            await self._complete(view, result)
        finally:
            self._handles.pop(view.id, None)
            self._views.pop(view.id, None)
            self._last_edit.pop(view.id, None)
            self._pending_text.pop(view.id, None)
            self._pending_preview.pop(view.id, None)
            self._progress_ids.pop(view.id, None)
            self._started.discard(view.id)
            await self.pump(view.user_id)

    async def _complete(self, view: JobView, result: Any) -> None:
        stored = await asyncio.to_thread(self._store_images, result)
        async with self.db.session() as session:
            job = await repo.get_job(session, view.id)
            if job.status is JobStatus.QUEUED:
                await repo.transition(session, view.id, JobStatus.RUNNING)
            await repo.transition(
                session,
                view.id,
                JobStatus.DONE,
                gpu_seconds=result.seconds,
                model=result.model,
                seeds=result.seeds,
                parameters={"effective": result.parameters},
            )
            await repo.attach_images(session, view.id, stored)
        await self.deliver(view.id)

    def _store_images(self, result: Any) -> list[NewImage]:
        images = []
        for index, (image, seed) in enumerate(zip(result.images, result.seeds, strict=True)):
            stored = self.store.put(encode_png(image), "png")
            images.append(
                NewImage(index, image.width, image.height, stored.path, stored.sha256, "png", seed)
            )
        return images

    async def _fail(self, view: JobView, reason: str) -> None:
        await self._set_status(view.id, JobStatus.FAILED, error=reason)
        await self._edit_progress(
            view,
            texts.failed_text(view.prompt, view.label, view.user_id, reason),
            clear_buttons=True,
        )

    async def _set_status(self, job_id: str, status: JobStatus, error: str | None = None) -> None:
        async with self.db.session() as session:
            job = await repo.get_job(session, job_id)
            if status is JobStatus.QUEUED and job.status is JobStatus.QUEUED:
                return
            if status not in repo.TRANSITIONS[job.status]:
                log.warning("job %s: ignoring %s → %s", job_id, job.status, status)
                return
            await repo.transition(session, job_id, status, error=error)

    # -- delivery ----------------------------------------------------------------------------

    async def deliver(self, job_id: str) -> None:
        """Post a finished job's result with its buttons, once, then drop its waiting message."""
        async with self.db.session() as session:
            job = await repo.get_job(session, job_id, with_images=True)
        if job.delivered or job.channel_id is None:
            return
        channel = self._channel(job.channel_id)
        # The interaction told us this channel's upload limit; the guild's boost level is the
        # fallback for jobs that did not come from an interaction.
        limit = int(job.parameters.get("upload_limit") or self._upload_limit(channel))
        message = await self.post_result(job, channel, limit, nonce=_nonce(job.id))
        async with self.db.session() as session:
            await repo.mark_delivered(session, job.id, message.id)
        if job.progress_message_id is not None:
            await self._delete_message(job.channel_id, job.progress_message_id)

    async def post_result(
        self, job: Any, channel: Any, limit: int, *, nonce: str | None = None
    ) -> Any:
        """Post a finished job (loaded with its images) to ``channel`` with fresh buttons:
        its delivery, or a ``/show`` re-post (no ``nonce``: a new message, not the first)."""
        async with self.db.session() as session:
            remix = (await get_or_create_user(session, job.user_id)).remix
        return await post_result(self.store, job, channel, limit, remix=remix, nonce=nonce)

    def _upload_limit(self, channel: Any) -> int:
        guild = getattr(channel, "guild", None)
        return int(guild.filesize_limit) if guild is not None else DM_UPLOAD_LIMIT

    # -- Discord helpers ---------------------------------------------------------------------

    def _channel(self, channel_id: int) -> Any:
        channel = self.client.get_channel(channel_id)
        return channel if channel is not None else self.client.get_partial_messageable(channel_id)

    async def _edit_progress(
        self,
        view: JobView,
        text: str,
        image: Image.Image | None = None,
        *,
        clear_buttons: bool = False,
    ) -> None:
        message_id = await self._progress_message_id(view)
        if view.channel_id is None or message_id is None:
            return
        message = self._channel(view.channel_id).get_partial_message(message_id)
        try:
            if clear_buttons:  # the job has ended: ❌ would do nothing
                await message.edit(content=text, view=None)
            elif image is None:
                await message.edit(content=text)
            else:
                data = await asyncio.to_thread(_preview_png, image)
                await message.edit(
                    content=text,
                    attachments=[
                        discord.File(io.BytesIO(data), filename=f"progress_{view.id}.png")
                    ],
                )
        except discord.NotFound:
            log.info("job %s: its waiting message is gone", view.id)
        except discord.HTTPException as error:
            log.warning("job %s: could not edit its waiting message: %s", view.id, error)

    async def _progress_message_id(self, view: JobView) -> int | None:
        """The job's waiting message. A job may start before its own ``enqueue`` recorded it
        (another submission's ``pump`` picked it up), so its view can predate the id."""
        known = view.progress_message_id or self._progress_ids.get(view.id)
        if known is None:
            async with self.db.session() as session:
                known = (await repo.get_job(session, view.id)).progress_message_id
        if known is not None:
            self._progress_ids[view.id] = known
        return known

    async def _delete_message(self, channel_id: int, message_id: int) -> None:
        with contextlib.suppress(discord.NotFound):
            await self._channel(channel_id).get_partial_message(message_id).delete()

    async def _report_queue(self) -> None:
        """Keep waiting messages honest: their place in the queue and when they will start."""
        shown: dict[str, str] = {}
        interval = max(3.0, self.settings.mj_progress_interval)
        while self.accepting:
            await asyncio.sleep(interval)
            for job_id, view in list(self._views.items()):
                if job_id in self._started:
                    continue
                note = self.queue_note(job_id)
                if note and shown.get(job_id) != note:
                    shown[job_id] = note
                    await self._edit_progress(
                        view, texts.waiting_text(view.prompt, view.label, view.user_id, note)
                    )
            for job_id in set(shown) - set(self._views):
                del shown[job_id]

    def queue_note(self, job_id: str) -> str:
        handle = self._handles.get(job_id)
        if handle is None:
            return ""
        position = handle.position()
        wait = handle.estimated_wait()
        if position is None or wait is None:
            return ""
        return f"Position {position + 1} in the queue · starts <t:{int(time.time() + wait)}:R>"


def _preview_png(image: Image.Image) -> bytes:
    return encode_png(preview(image, PREVIEW_SIDE))


def _nonce(job_id: str) -> str:
    # Discord de-duplicates messages with the same nonce: a delivery repeated after a crash
    # between posting and recording it gives the same message, not a second one.
    return job_id.replace("-", "")[:25]
