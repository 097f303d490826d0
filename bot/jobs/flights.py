"""The jobs handed to the engine: one record each, from submission to stored and delivered.

The engine renders on its worker thread; here the source image, mask and references are read
from storage for it (in a thread), its progress edits the waiting message, and its result is
stored — files first, then the row — and delivered once. Cancellation and failures are
recorded and shown on the waiting message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bot import texts
from bot.jobs.delivery import Delivery
from bot.jobs.faults import STORAGE_RETRIES, storage_fault
from bot.jobs.modes import speed_mode
from bot.jobs.progress import JobMessages, ProgressRelay
from bot.jobs.records import JobView
from bot.jobs.references import engine_references, read_reference
from bot.jobs.spec import (
    Background,
    FaceTraining,
    JobSpec,
    Mimic,
    Portraits,
    ReferenceSpec,
    Region,
    Retexture,
    Transfer,
)
from bot.tasks import TaskGroup
from db import Database, ImageStore, JobStatus, NewImage, writes
from db import jobs as repo
from db.errors import StorageError
from engine import Engine, EngineError, GenerationResult, JobCancelledError, JobHandle
from engine.grid import encode_png

__all__ = ["Flights"]

log = logging.getLogger(__name__)

STORAGE_BACKOFF_S = 1.0


@dataclass(slots=True)
class _Flight:
    view: JobView
    handle: JobHandle
    relay: ProgressRelay


class Flights:
    """The jobs the engine holds (queued there or rendering), by id."""

    def __init__(
        self,
        *,
        db: Database,
        store: ImageStore,
        engine: Engine,
        messages: JobMessages,
        delivery: Delivery,
        tasks: TaskGroup,
        progress_interval: float,
        accepting: Callable[[], bool],
        finished: Callable[[int], Coroutine[Any, Any, None]],
    ) -> None:
        self.db = db
        self.store = store
        self.engine = engine
        self.messages = messages
        self.delivery = delivery
        self.tasks = tasks
        self.progress_interval = progress_interval
        self.accepting = accepting
        self.finished = finished
        """Called with the user's id when one of their jobs left the engine."""
        self._flights: dict[str, _Flight] = {}
        self._job_tasks: set[asyncio.Task[Any]] = set()

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._flights

    def count(self, user_id: int) -> int:
        return sum(1 for f in self._flights.values() if f.view.user_id == user_id)

    def cancel(self, job_id: str) -> bool:
        """Stop a job the engine holds; ``False`` when it has rendered already."""
        flight = self._flights[job_id]
        return not flight.handle.future.done() and self.engine.cancel(job_id)

    async def settle(self, timeout: float) -> None:  # noqa: ASYNC109 - a bounded wait
        """Let finishing jobs record their state (at shutdown)."""
        if self._job_tasks:
            await asyncio.wait(list(self._job_tasks), timeout=timeout)

    async def start(self, view: JobView) -> None:
        spec = view.spec
        try:
            source = await self._source_record(spec) if spec.source else None
            request = await asyncio.to_thread(self._build_request, spec, source)
        except StorageError as error:
            await self.fail(view, f"a stored image it needs is unavailable ({error})")
            return
        relay = ProgressRelay(
            view,
            self.messages,
            self.tasks,
            interval=self.progress_interval,
            on_start=lambda: self.tasks.spawn(
                self._mark_running(view.id), name=f"running-{view.id}"
            ),
        )
        handle = self.engine.submit(
            request,
            job_id=view.id,
            user_id=str(view.user_id),
            mode=speed_mode(view.mode),
            on_progress=relay.report,
        )
        flight = _Flight(view, handle, relay)
        self._flights[view.id] = flight
        task = self.tasks.spawn(self._finish(flight), name=f"job-{view.id}")
        self._job_tasks.add(task)
        task.add_done_callback(self._job_tasks.discard)

    def _build_request(self, spec: JobSpec, source: tuple[str, str] | None) -> Any:
        read = self.delivery.read_image
        image = read(*source) if source is not None else None
        work = spec.work
        portraits = self.engine.config.portrait_dir
        if isinstance(work, FaceTraining):  # the uploaded photos, stored
            photos = tuple(read(photo.path, photo.sha256) for photo in work.photos)
            return spec.request(photos=photos, portraits=portraits)
        if isinstance(work, Portraits):
            return spec.request(portraits=portraits)
        if isinstance(work, Retexture | Background):  # a job's image or a stored upload/link
            if image is None and isinstance(work.image, ReferenceSpec):
                image = read_reference(work.image, read)
            subject = None
            if isinstance(work, Background) and work.subject is not None:
                subject = read_reference(work.subject, read)
            return spec.request(image, subject, engine_references(spec, read))
        if isinstance(work, Transfer):  # the content is a job's image or a stored upload/link
            style = read_reference(work.style, read)
            if image is None and isinstance(work.content, ReferenceSpec):
                image = read_reference(work.content, read)
            return spec.request(image, style=style)
        if isinstance(work, Mimic):  # the image is a job's image or a stored upload/link
            if image is None and isinstance(work.image, ReferenceSpec):
                image = read_reference(work.image, read)
            region = read_reference(work.mask, read)
            return spec.request(image, region, reference=read_reference(work.reference, read))
        mask = read(work.mask.path, work.mask.sha256) if isinstance(work, Region) else None
        return spec.request(image, mask, engine_references(spec, read))

    async def _source_record(self, spec: JobSpec) -> tuple[str, str]:
        """Where the spec's source image is stored: ``(path, sha256)``."""
        assert spec.source is not None  # noqa: S101 - callers check
        async with self.db.read() as session:
            job = await repo.get_job(session, spec.source.job_id, with_images=True)
        for image in job.images:
            if image.index == spec.source.index:
                return image.path, image.sha256
        raise StorageError(f"job {spec.source.job_id} has no image {spec.source.index + 1}")

    async def _mark_running(self, job_id: str) -> None:
        await self.db.run(writes.mark_running, job_id)

    async def _finish(self, flight: _Flight) -> None:
        view = flight.view
        try:
            try:
                result = await flight.handle.future
            finally:
                await flight.relay.settle()
        except JobCancelledError:
            if self.accepting():
                await self.set_status(view.id, JobStatus.CANCELLED)
                text = texts.stopped_text(view.prompt, view.label, view.user_id)
                await self.messages.edit_waiting(view, text, clear_buttons=True)
            else:  # shutting down: leave it queued for the next start
                await self.set_status(view.id, JobStatus.QUEUED)
        except EngineError as error:
            log.warning("job %s failed: %s", view.id, error)
            await self.fail(view, str(error))
        else:
            await self._complete(view, result)
        finally:
            self._flights.pop(view.id, None)
            await self.finished(view.user_id)

    async def _complete(self, view: JobView, result: GenerationResult) -> None:
        """Store the images, then record them, then deliver. A storage fault (full disk,
        read-only folder) is retried a few times, then fails the job visibly."""
        for attempt in range(1, STORAGE_RETRIES + 1):
            try:
                await self._record(view, result)
                break
            except Exception as error:
                reason = storage_fault(error)
                if reason is None:
                    raise
                log.error(
                    "job %s: could not save its result (attempt %d of %d): %s",
                    view.id,
                    attempt,
                    STORAGE_RETRIES,
                    error,
                )
                if attempt == STORAGE_RETRIES:
                    await self._fail_unsaved(view, reason)
                    return
                await asyncio.sleep(STORAGE_BACKOFF_S * attempt)
        await self.delivery.deliver(view.id)

    async def _fail_unsaved(self, view: JobView, reason: str) -> None:
        """Tell the user; record the failure if the database can still be written."""
        try:
            await self.set_status(view.id, JobStatus.FAILED, error=f"could not save: {reason}")
        except Exception as error:  # the database is on the full disk too
            log.error("job %s: could not record its failure either: %s", view.id, error)
        text = texts.failed_text(
            view.prompt, view.label, view.user_id, f"could not save the result — {reason}"
        )
        await self.messages.edit_waiting(view, text, clear_buttons=True)

    async def _record(self, view: JobView, result: GenerationResult) -> None:
        stored = await asyncio.to_thread(self._store_images, result)
        await self.db.run(
            writes.record_result,
            view.id,
            stored,
            gpu_seconds=result.seconds,
            model=result.model,
            seeds=result.seeds,
            parameters={"effective": result.parameters.to_json()},
        )

    def _store_images(self, result: GenerationResult) -> list[NewImage]:
        images = []
        for index, (image, seed) in enumerate(zip(result.images, result.seeds, strict=True)):
            stored = self.store.put(encode_png(image), "png")
            images.append(
                NewImage(index, image.width, image.height, stored.path, stored.sha256, "png", seed)
            )
        return images

    async def fail(self, view: JobView, reason: str) -> None:
        """Record the job failed and say why on its waiting message."""
        await self.set_status(view.id, JobStatus.FAILED, error=reason)
        text = texts.failed_text(view.prompt, view.label, view.user_id, reason)
        await self.messages.edit_waiting(view, text, clear_buttons=True)

    async def set_status(self, job_id: str, status: JobStatus, error: str | None = None) -> None:
        async with self.db.session() as session:
            job = await repo.get_job(session, job_id)
            if status is JobStatus.QUEUED and job.status is JobStatus.QUEUED:
                return
            if status not in repo.TRANSITIONS[job.status]:
                log.warning("job %s: ignoring %s → %s", job_id, job.status, status)
                return
            await repo.transition(session, job_id, status, error=error)

    def queue_note(self, job_id: str) -> str:
        """``Position 2 in the queue · starts in 1 minute`` for a job the engine holds."""
        flight = self._flights.get(job_id)
        if flight is None:
            return ""
        position = flight.handle.position()
        wait = flight.handle.estimated_wait()
        if position is None or wait is None:
            return ""
        return f"Position {position + 1} in the queue · starts <t:{int(time.time() + wait)}:R>"

    async def report_queue(self) -> None:
        """Keep waiting messages honest: their place in the queue and when they will start."""
        shown: dict[str, str] = {}
        interval = max(3.0, self.progress_interval)
        while self.accepting():
            await asyncio.sleep(interval)
            for job_id, flight in list(self._flights.items()):
                if flight.relay.started:
                    continue
                note = self.queue_note(job_id)
                if note and shown.get(job_id) != note:
                    shown[job_id] = note
                    view = flight.view
                    text = texts.waiting_text(view.prompt, view.label, view.user_id, note)
                    await self.messages.edit_waiting(view, text)
            for job_id in set(shown) - set(self._flights):
                del shown[job_id]
