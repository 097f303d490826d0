"""The life of a job: admit, launch, queue, render, store, deliver — restart-proof.

The database holds the truth; the runner keeps one in-flight record per job it handed to the
engine and rebuilds the rest from the database at start-up (:meth:`JobRunner.recover`).

1. **Admit** (:meth:`~JobRunner.admit`): the job row is written — durable before the user
   hears anything.
2. **Launch** (:meth:`~JobRunner.launch`): pending references are fetched and stored, the
   waiting message is posted, and the user's queue is pumped. A crash before or during this
   leaves a queued job that recovery launches again.
3. **Run**: the user's oldest launched jobs go to the engine while their limit allows
   (``bot.jobs.flights``: progress, storing, delivering once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import discord

from bot import texts
from bot.errors import UserError
from bot.jobs.delivery import Delivery
from bot.jobs.flights import Flights
from bot.jobs.progress import JobMessages
from bot.jobs.records import JobParameters, JobView, ReplyHandle
from bot.jobs.references import ReferenceFetcher
from bot.jobs.spec import JobSpec
from bot.tasks import TaskGroup
from bot.ui.routing import ImageContext, Routes, Surface
from db import Database, ImageStore, JobKind, JobMode, JobStatus, Limits, NewJob, writes
from db import jobs as repo
from db.recovery import recover
from engine import Engine

__all__ = ["RESTARTING", "CancelOutcome", "JobRunner", "Submission"]

log = logging.getLogger(__name__)

RESTARTING = UserError(
    "The bot is restarting; try again in a minute.", title="Restarting", warning=True
)


class CancelOutcome(StrEnum):
    """What :meth:`JobRunner.cancel` did."""

    STOPPED = "stopped"
    """It was waiting for the user's other jobs: cancelled now, its message says so."""
    STOPPING = "stopping"
    """The engine had it: it stops within one step and is then recorded as cancelled."""
    FINISHING = "finishing"
    """Too late: it has rendered and is being stored and delivered."""
    ENDED = "ended"
    """It had already ended (done, failed or cancelled)."""


@dataclass(frozen=True, slots=True)
class Submission:
    """A job a feature asks for."""

    user_id: int
    channel_id: int | None
    guild_id: int | None
    kind: JobKind
    prompt: str
    """The canonical echo shown in messages."""
    raw: str
    spec: JobSpec | None
    mode: JobMode = JobMode.FAST
    label: str | None = None
    parent_job_id: str | None = None
    parent_index: int | None = None
    upload_limit: int | None = None
    reply: ReplyHandle | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    job_id: str | None = None


Resume = Callable[[JobView], Coroutine[Any, Any, None]]


class JobRunner:
    def __init__(
        self,
        *,
        client: discord.Client,
        db: Database,
        store: ImageStore,
        engine: Engine,
        routes: Routes,
        references: ReferenceFetcher,
        limits: Limits,
        progress_interval: float,
        max_attempts: int,
    ) -> None:
        self.client = client
        self.db = db
        self.store = store
        self.engine = engine
        self.routes = routes
        self.references = references
        self.limits = limits
        self.progress_interval = progress_interval
        self.max_attempts = max_attempts
        self.messages = JobMessages(client, db)
        self.delivery = Delivery(db, store, self.messages, routes)
        self.accepting = True
        self._tasks = TaskGroup()
        self.flights = Flights(
            db=db,
            store=store,
            engine=engine,
            messages=self.messages,
            delivery=self.delivery,
            tasks=self._tasks,
            progress_interval=progress_interval,
            accepting=lambda: self.accepting,
            finished=self.pump,
        )
        self._preparing: set[str] = set()
        self._user_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._resumers: dict[JobKind, Resume] = {}

    def add_resumer(self, kind: JobKind, resume: Resume) -> None:
        """Jobs of ``kind`` are not GPU work (``/describe``): a feature runs them itself, and
        ``resume`` finishes one that a restart interrupted."""
        self._resumers[kind] = resume

    # -- admission ---------------------------------------------------------------------------

    async def admit(self, submission: Submission, *, limited: bool = True) -> repo.Admission:
        """Record the job (raises :class:`~db.QueueFullError` when the user's queue is full).
        Nothing runs yet: :meth:`launch` it once the user was answered."""
        if not self.accepting:
            raise RESTARTING
        s = submission
        parameters = JobParameters(
            spec=s.spec, label=s.label, upload_limit=s.upload_limit, reply=s.reply, extra=s.extra
        )
        new = NewJob(
            id=s.job_id or str(uuid.uuid4()),
            user_id=s.user_id,
            kind=s.kind,
            prompt=s.prompt,
            raw_prompt=s.raw,
            parameters=parameters.to_json(),
            mode=s.mode,
            guild_id=s.guild_id,
            channel_id=s.channel_id,
            parent_job_id=s.parent_job_id,
            parent_index=s.parent_index,
            seeds=s.spec.seeds if s.spec is not None else (),
        )
        # The acknowledgement waits: one hop to the database's thread (see Database.run).
        return await self.db.run_urgent(writes.create_job, new, self.limits if limited else None)

    async def launch(self, job_id: str, *, post_first: bool = False) -> UserError | None:
        """Fetch the job's pending references, post its waiting message, start it when the
        user's limit allows. A reference that cannot be used (or a channel the bot cannot
        post in) fails the job; the refusal is returned for the caller to show
        (``post_first``: nobody waits for an answer, so the waiting message comes first and
        shows the failure)."""
        async with self.db.read() as session:
            view = JobView.of(await repo.get_job(session, job_id))
        self._preparing.add(job_id)
        try:
            if post_first:
                view = await self._post_waiting(view)
            spec = view.parameters.spec
            if spec is not None and spec.pending_references:
                spec = await self.references.resolve(spec)
                await self._save_spec(job_id, spec)
            if not post_first:
                await self._post_waiting(view)
        except UserError as refusal:
            log.info("job %s cannot start: %s", job_id, refusal.message)
            await self.flights.fail(view, refusal.message)
            return refusal
        finally:
            self._preparing.discard(job_id)
        await self.pump(view.user_id)
        return None

    async def _post_waiting(self, view: JobView) -> JobView:
        if view.progress_message_id is not None or view.channel_id is None:
            return view
        buttons = self.routes.view(Surface.WAITING, ImageContext(view.id))
        try:
            message_id = await self.messages.post_waiting(view, buttons)
        except (discord.Forbidden, discord.NotFound) as error:
            raise UserError(
                f"I cannot post in that channel ({error.text or error.status}); "
                "check my permissions there (View Channel, Send Messages, Attach Files)."
            ) from None
        return replace(view, progress_message_id=message_id)

    async def _save_spec(self, job_id: str, spec: JobSpec) -> None:
        async with self.db.session() as session:
            job = await repo.get_job(session, job_id)
            job.parameters = {**job.parameters, "spec": spec.to_json()}

    async def pump(self, user_id: int) -> None:
        """Hand the user's oldest launched jobs to the engine while their limit allows."""
        if not self.accepting:
            return
        async with self._user_locks[user_id]:
            room = self.limits.max_active - self.flights.count(user_id)
            if room <= 0:
                return
            async with self.db.read() as session:
                queued = [JobView.of(job) for job in await repo.queued(session, user_id)]
            ready = [view for view in queued if self._ready(view)]
            for view in ready[:room]:
                await self.flights.start(view)

    def _ready(self, view: JobView) -> bool:
        spec = view.parameters.spec
        return (
            view.id not in self.flights
            and view.id not in self._preparing
            and view.kind not in self._resumers
            and view.progress_message_id is not None
            and spec is not None
            and not spec.pending_references
        )

    # -- control -----------------------------------------------------------------------------

    async def cancel(self, job_id: str) -> CancelOutcome:
        """Stop a job (raises :class:`~db.JobNotFoundError`). One held back by the user's
        limit is cancelled here; one the engine has stops within a step, and its finish
        records it. Either way the user's admission counts drop."""
        async with self.db.session() as session:
            user_id = (await repo.get_job(session, job_id)).user_id
        async with self._user_locks[user_id]:  # so pump cannot start it meanwhile
            if job_id in self.flights:
                stopping = self.flights.cancel(job_id)
                return CancelOutcome.STOPPING if stopping else CancelOutcome.FINISHING
            async with self.db.session() as session:
                job = await repo.get_job(session, job_id)
                if job.status.is_final:
                    return CancelOutcome.ENDED
                if job.status is not JobStatus.QUEUED:  # recorded running, not ours to stop
                    return CancelOutcome.FINISHING
                await repo.transition(session, job_id, JobStatus.CANCELLED)
                view = JobView.of(job)
        log.info("job %s cancelled while held", job_id)
        text = texts.stopped_text(view.prompt, view.label, view.user_id)
        await self.messages.edit_waiting(view, text, clear_buttons=True)
        return CancelOutcome.STOPPED

    def in_engine(self, job_id: str) -> bool:
        """Whether the job was handed to the engine (queued there or rendering)."""
        return job_id in self.flights

    def queue_note(self, job_id: str) -> str:
        """``Position 2 in the queue · starts in 1 minute`` for a job the engine holds."""
        return self.flights.queue_note(job_id)

    # -- rendering ---------------------------------------------------------------------------

    # -- start and stop ----------------------------------------------------------------------

    async def recover(self) -> None:
        """Put right what a crash or restart left: finish launches, requeue, deliver, and
        report failures."""
        async with self.db.session() as session:
            plan = await recover(session, max_attempts=self.max_attempts)
        for job in plan.failed:
            view = JobView.of(job)
            text = texts.failed_text(
                view.prompt, view.label, view.user_id, "interrupted too many times"
            )
            await self.messages.edit_waiting(view, text, clear_buttons=True)
        for job in plan.deliver:
            resume = self._resumers.get(JobKind(job.kind))
            delivering = (
                resume(JobView.of(job))
                if resume
                else self.delivery.deliver(job.id, after_restart=True)
            )
            self._spawn(delivering, f"deliver-{job.id}")
        for job in plan.resubmit:
            view = JobView.of(job)
            resume = self._resumers.get(view.kind)
            if resume is not None:
                self._spawn(resume(view), f"resume-{view.id}")
            elif not self._ready(view):  # acknowledged, but never launched
                self._spawn(self._relaunch(view), f"launch-{view.id}")
            elif view.parameters.reply is not None:  # launched, but never answered
                self._spawn(close_reply(self.client, view.parameters.reply), f"reply-{view.id}")
        for user_id in dict.fromkeys(job.user_id for job in plan.resubmit):
            await self.pump(user_id)
        log.info(
            "recovered: %d to run, %d to deliver, %d failed",
            len(plan.resubmit),
            len(plan.deliver),
            len(plan.failed),
        )
        self._spawn(self.flights.report_queue(), "queue-reporter")

    async def _relaunch(self, view: JobView) -> None:
        await self.launch(view.id, post_first=True)
        if view.parameters.reply is not None:
            await close_reply(self.client, view.parameters.reply)

    async def close(self) -> None:
        """Stop accepting; cancel running jobs and record them as queued for the next start."""
        self.accepting = False
        await self.engine.close()
        await self.flights.settle(timeout=10)  # they record their state, then the rest stops
        await self._tasks.cancel_all()

    def _spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self._tasks.spawn(coroutine, name=name)


async def close_reply(client: discord.Client, reply: ReplyHandle) -> None:
    """Delete an interaction's deferred answer after a restart if it still says "thinking…"
    (while its token works); a job it announced is in the channel by now."""
    if not reply.usable:
        return
    webhook = discord.Webhook.partial(reply.application_id, reply.token, client=client)
    with contextlib.suppress(discord.HTTPException):
        answer = await webhook.fetch_message("@original")  # type: ignore[arg-type]
        if answer.flags.loading:
            await answer.delete()
