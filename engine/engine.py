"""The engine as the bot sees it: submit requests from asyncio, await results."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from engine.config import EngineConfig
from engine.errors import EngineError, JobCancelledError
from engine.executors import Executor, LocalExecutor
from engine.models import ModelCatalog, ModelRegistry
from engine.request import GenerationRequest, GenerationResult, Operation, Progress
from engine.scheduler import FairScheduler, SpeedMode, Ticket
from engine.sizes import size_for_aspect
from engine.transfer.operation import output_size, pixel_budget, transfer_steps
from engine.worker import DeviceWorker, PendingJob

__all__ = ["Engine", "EngineConfig", "JobHandle", "estimate_cost"]

log = logging.getLogger(__name__)

INTERACTIVE = frozenset({Operation.REGION})
SECONDS_PER_COST_START = 10.0
"""Seconds a native-size 2×2 grid is assumed to take until one has been measured."""
TRANSFER_STEPS_PER_GRID = 1000
UNET_CALLS_PER_GRID = 4 * 30 * 2
"""A 2×2 grid at 30 steps with classifier-free guidance."""
TRAINING_CALLS_PER_PHOTO_STEP = 3
"""A training step: a U-Net forward and backward (about three forwards) per photo."""
WORKING_SIZE = (Operation.RETEXTURE, Operation.BACKGROUND)
"""Operations that bring any image to the model's native area first."""
PORTRAIT_FUSION_SHARE = 0.5
"""A candidate's face fusion, as a share of rendering it."""
"""Style-transfer steps at native² pixels assumed to cost as much as a 2×2 grid (a VGG19
forward and backward is far cheaper than four UNet evaluations)."""


@dataclass(eq=False)
class JobHandle:
    """A submitted job: await :attr:`future`; :meth:`cancel` stops it queued or running."""

    job_id: str
    future: asyncio.Future[GenerationResult]
    _engine: Engine

    def cancel(self) -> None:
        self._engine.cancel(self.job_id)

    def position(self) -> int | None:
        """0-based place in the queue, or ``None`` once running or done."""
        return self._engine.position(self.job_id)

    def estimated_wait(self) -> float | None:
        """Seconds until it starts, from the measured speed; ``None`` once running."""
        return self._engine.estimated_wait(self.job_id)


def estimate_cost(request: GenerationRequest, native: int = 1024) -> float:
    """Relative GPU cost: a native-size grid at full quality is 1."""
    if request.operation is Operation.TRANSFER:
        return _transfer_cost(request, native)
    if request.operation is Operation.FACE_TRAINING and request.training is not None:
        from engine.portrait.training import STEPS_PER_PHOTO

        photos = len(request.training.photos)
        steps = request.training.steps or STEPS_PER_PHOTO * photos
        return max(0.01, steps * photos * TRAINING_CALLS_PER_PHOTO_STEP / UNET_CALLS_PER_GRID)
    if request.operation in (Operation.IMAGINE, Operation.PORTRAIT, *WORKING_SIZE):
        width, height = size_for_aspect(request.aspect, native)
        pixels = width * height
        if request.operation is Operation.PORTRAIT:  # and each candidate's face fusion
            pixels = int(pixels * (1 + PORTRAIT_FUSION_SHARE))
    elif request.source is not None:
        pixels = request.source.width * request.source.height
        pixels *= 4 if request.operation is Operation.UPSCALE else 1
    else:
        pixels = native * native
    imagine = request.operation in (Operation.IMAGINE, Operation.PORTRAIT)
    quality = request.quality if imagine else 1.0  # --q only changes first grids
    stop = 100 if request.operation is Operation.UPSCALE else request.stop
    return max(0.01, request.count / 4 * pixels / native**2 * quality * stop / 100)


def _transfer_cost(request: GenerationRequest, native: int) -> float:
    """A transfer's cost: its output pixels × steps (an unusable request costs the minimum:
    the worker refuses it at once)."""
    if request.source is None or request.transfer is None:
        return 0.01
    try:
        width, height = output_size(
            request.source.size, request.transfer.size, pixel_budget("cuda")
        )
    except EngineError:
        return 0.01
    steps = transfer_steps(request.transfer) if request.transfer.strength else 0
    return max(0.01, width * height / native**2 * steps / TRANSFER_STEPS_PER_GRID)


@dataclass(eq=False)
class _Lane:
    """A queue and what runs it."""

    scheduler: FairScheduler
    executor: Executor


class Engine:
    """Fair scheduler in front of an executor: worker threads per local device, or remote GPU
    workers (``EngineConfig.gpu_urls``: every job goes there; portraits' files travel with
    the jobs that use them)."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.catalog = ModelCatalog(config.models)
        self._jobs: dict[str, PendingJob] = {}
        self._lane_of: dict[str, _Lane] = {}
        self._lock = threading.Lock()
        self._seconds_per_cost = SECONDS_PER_COST_START
        local_scheduler = FairScheduler(starvation_s=config.starvation_s)
        self._local = _Lane(
            local_scheduler,
            LocalExecutor(
                config, self.catalog, local_scheduler, self._claim, self._finished, self._peek
            ),
        )
        self._remote: _Lane | None = None
        if config.gpu_urls:
            from engine.remote.client import ServeExecutor

            remote_scheduler = FairScheduler(starvation_s=config.starvation_s)
            executor = ServeExecutor(
                config.gpu_urls,
                config.gpu_token,
                remote_scheduler,
                self.catalog,
                self._claim,
                self._finished,
                self._give_back,
                max_attempts=config.gpu_attempts,
                portraits=config.portrait_dir,
            )
            self._remote = _Lane(remote_scheduler, executor)
        self.scheduler = (self._remote or self._local).scheduler
        """The queue most jobs wait in (the remote one when GPU workers are configured)."""

    @property
    def executor(self) -> Executor:
        return (self._remote or self._local).executor

    @property
    def workers(self) -> list[DeviceWorker]:
        """The local devices' worker threads."""
        executor = self._local.executor
        assert isinstance(executor, LocalExecutor)  # noqa: S101 - the local lane's kind
        return executor.workers

    @property
    def registries(self) -> list[ModelRegistry]:
        """Each local device's models (touch them only before :meth:`start` or on its
        thread)."""
        return [worker.registry for worker in self.workers]

    def _lanes(self) -> list[_Lane]:
        return [self._local] if self._remote is None else [self._remote, self._local]

    async def start(self, *, warm_up: bool = True) -> None:
        """Load the default model on every local device (off the event loop; not when remote
        workers do the rendering), then start serving."""
        await self._local.executor.start(warm_up=warm_up and self._remote is None)
        if self._remote is not None:
            await self._remote.executor.start(warm_up=warm_up)

    async def close(self) -> None:
        """Stop taking jobs; cancel what is queued or running; wait for them to stop."""
        for lane in self._lanes():
            lane.scheduler.close()
        with self._lock:
            pending = list(self._jobs.values())
            self._jobs.clear()
        for job in pending:
            job.cancel.set()
            if not job.future.done():
                job.future.set_exception(JobCancelledError("the engine is shutting down"))
        for lane in self._lanes():
            await lane.executor.close()

    def submit(
        self,
        request: GenerationRequest,
        *,
        job_id: str | None = None,
        user_id: str = "local",
        mode: SpeedMode = SpeedMode.FAST,
        interactive: bool | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> JobHandle:
        """Queue ``request``; call from the event loop. ``on_progress`` runs on the loop."""
        loop = asyncio.get_running_loop()
        job_id = job_id or str(uuid.uuid4())
        cost = estimate_cost(request)
        if interactive is None:
            interactive = request.operation in INTERACTIVE
        ticket = Ticket(job_id, user_id, mode, interactive, cost)
        job = PendingJob(
            job_id, request, loop, loop.create_future(), on_progress, cost=cost, ticket=ticket
        )
        lane = self._lane_for(request)
        with self._lock:
            self._jobs[job_id] = job
            self._lane_of[job_id] = lane
        job.future.add_done_callback(lambda _: self._lane_of.pop(job_id, None))
        lane.scheduler.push(ticket)
        lane.executor.wake()
        return JobHandle(job_id, job.future, self)

    def _lane_for(self, request: GenerationRequest) -> _Lane:
        return self._remote or self._local

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job; its future fails with :class:`JobCancelledError`."""
        lane = self._lane_of.get(job_id)
        if lane is None:
            return False
        with self._lock:
            job = self._jobs.pop(job_id, None)
        running = lane.executor.running(job_id)
        target = job or running
        if target is None:
            return False
        target.cancel.set()  # a running job stops at its next step
        if lane.scheduler.remove(job_id) and not target.future.done():
            target.future.set_exception(JobCancelledError("cancelled while queued"))
        elif running is not None:
            lane.executor.cancel(job_id)
        return True

    def position(self, job_id: str) -> int | None:
        lane = self._lane_of.get(job_id)
        return None if lane is None else lane.scheduler.position(job_id)

    def estimated_wait(self, job_id: str) -> float | None:
        lane = self._lane_of.get(job_id)
        ahead = None if lane is None else lane.scheduler.estimated_wait(job_id)
        if lane is None or ahead is None:
            return None
        return ahead * self._seconds_per_cost / max(1, lane.executor.parallelism)

    def _peek(self, job_id: str) -> PendingJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _claim(self, job_id: str) -> PendingJob | None:
        with self._lock:
            return self._jobs.pop(job_id, None)

    def _give_back(self, job: PendingJob) -> bool:
        """A remote run that was refused or lost: the job waits again at the head of its
        user's queue. ``False`` when it was cancelled meanwhile (nothing to give back)."""
        lane = self._lane_of.get(job.job_id)
        if lane is None or job.ticket is None or job.cancel.is_set() or job.future.done():
            return False
        with self._lock:
            self._jobs[job.job_id] = job
        lane.scheduler.restore(job.ticket)
        lane.executor.wake()
        return True

    def _finished(self, job: PendingJob, seconds: float) -> None:
        # An exponential average of measured speed keeps queue estimates honest.
        measured = seconds / job.cost
        self._seconds_per_cost = 0.8 * self._seconds_per_cost + 0.2 * measured
