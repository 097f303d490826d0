"""A thread per device that takes jobs from the scheduler and renders them.

The thread owns its device's models: all loading, pipeline calls and image work run on it,
never on the event loop. Results, errors and progress go back to the loop with
``call_soon_threadsafe``. One job's failure never stops the thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from engine.errors import EngineError, GPUOutOfMemoryError, JobCancelledError
from engine.grid import compose_grid, preview
from engine.house_style import DEFAULT_HOUSE_STYLES, HouseStyles
from engine.loras import LoraLibrary
from engine.mimic.fallback import run_fallback
from engine.mimic.operation import MimicRegistry, check_mimic_request, run_mimic
from engine.models import ModelRegistry
from engine.operations import render
from engine.request import GenerationRequest, GenerationResult, Operation, Progress
from engine.scheduler import FairScheduler, Ticket
from engine.structure.tools import StructureTools
from engine.transfer import BackboneRegistry, transfer

__all__ = ["DeviceWorker", "PendingJob"]

log = logging.getLogger(__name__)

PREVIEW_SIDE = 256

WORKER_NICENESS = 10
"""How much lower than the process the worker thread is scheduled (Linux ``nice``, per
thread): when the CPU is contended, the event loop (acknowledging commands) runs first and
rendering takes what is left (on a GPU the worker mostly waits for the device anyway)."""


@dataclass(eq=False)
class PendingJob:
    """A submitted job as the worker sees it."""

    job_id: str
    request: GenerationRequest
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[GenerationResult]
    on_progress: Callable[[Progress], None] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    cost: float = 1.0
    ticket: Ticket | None = None
    """Its place in the queue, to give back when a remote worker refused or lost it."""
    attempt: int = 1
    """Which run this is: a remote worker lost mid-job means another, up to a limit."""
    dispatch: str | None = None
    """The current remote run's id; a result for any other run is stale."""


class DeviceWorker:
    """Renders jobs on one device until the scheduler closes."""

    def __init__(
        self,
        name: str,
        registry: ModelRegistry,
        scheduler: FairScheduler,
        claim: Callable[[str], PendingJob | None],
        on_finished: Callable[[PendingJob, float], None],
        house: HouseStyles = DEFAULT_HOUSE_STYLES,
        backbones: BackboneRegistry | None = None,
        mimics: MimicRegistry | None = None,
        loras: LoraLibrary | None = None,
        structure: StructureTools | None = None,
        max_batch: int = 1,
        peek: Callable[[str], PendingJob | None] | None = None,
    ) -> None:
        self.name = name
        self.max_batch = max_batch
        self._peek = peek
        """A queued job's record by id, without claiming it (for gathering batches)."""
        self.loras = loras
        # Retexture's ControlNets and depth, Change Background's subject finder.
        self.structure = structure or StructureTools(device=registry.device)
        self.house = house
        self.registry = registry
        # Style transfer's feature networks: a transfer never loads a diffusion model.
        self.backbones = backbones or BackboneRegistry(device=registry.device)
        # Reference edits' MimicBrush models: their own U-Nets, never the diffusion model.
        self.mimics = mimics or MimicRegistry(device=registry.device)
        self._scheduler = scheduler
        self._claim = claim
        self._on_finished = on_finished
        self.running: list[PendingJob] = []
        """What this worker renders now (several jobs when it renders a batch)."""
        self._thread = threading.Thread(target=self._run, name=f"mjbot-gpu-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.ident is not None:  # never started (start-up failed): nothing to join
            self._thread.join(timeout)

    def _run(self) -> None:
        _yield_cpu_to_event_loop()
        while True:
            ticket = self._scheduler.take()
            if ticket is None:
                return
            job = self._claim(ticket.job_id)
            if job is None:  # cancelled while queued
                continue
            self.running = [job]
            try:
                batch = self._gather(job)
                if len(batch) == 1:
                    self._render(job)
                else:
                    self._render_batch(batch)
            finally:
                self.running = []

    def _gather(self, first: PendingJob) -> list[PendingJob]:
        """``first`` and the tickets fair order gives next, while they can share its pipeline
        call (``engine.batching``): a batch never takes a job out of turn."""
        if self.max_batch <= 1 or self._peek is None or first.cancel.is_set():
            return [first]
        from engine.batching import batch_key

        try:
            model = self.registry.get(first.request.version)
            key = batch_key(model, first.request, self.house)
        except Exception:
            return [first]
        if key is None:
            return [first]
        peek = self._peek

        def fits(ticket: Ticket) -> bool:
            queued = peek(ticket.job_id)  # its key names its version: another model never fits
            if queued is None:
                return False
            try:
                return batch_key(model, queued.request, self.house) == key
            except Exception:
                return False

        while len(self.running) < self.max_batch:
            ticket = self._scheduler.pop_if(fits)
            if ticket is None:
                break
            job = self._claim(ticket.job_id)
            if job is not None:
                self.running.append(job)
        return list(self.running)

    def _render_batch(self, jobs: list[PendingJob]) -> None:
        from engine.batching import render_batch

        model = self.registry.get(jobs[0].request.version)
        log.info("rendering %d jobs in one batch", len(jobs))
        try:
            outcomes = render_batch(
                model,
                [job.request for job in jobs],
                cancels=[job.cancel for job in jobs],
                on_progress=[self._progress_sender(job) for job in jobs],
                on_preview=_grid_preview,
                house=self.house,
            )
        except Exception as error:
            log.exception("batch of %d crashed", len(jobs))
            outcomes = [EngineError(f"internal error: {type(error).__name__}") for _ in jobs]
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, EngineError):
                _resolve(job, error=outcome)
            else:
                self._on_finished(job, outcome.seconds / len(jobs))
                _resolve(job, result=outcome)

    def _render(self, job: PendingJob) -> None:
        if job.cancel.is_set():
            _resolve(job, error=JobCancelledError("cancelled before it started"))
            return
        try:
            result = self._run_operation(job)
        except JobCancelledError as error:
            log.info("job %s cancelled while running", job.job_id)
            _resolve(job, error=error)
        except EngineError as error:
            log.warning("job %s failed: %s", job.job_id, error)
            _resolve(job, error=error)
        except RuntimeError as error:
            if "out of memory" in str(error).lower():
                _resolve(
                    job,
                    error=GPUOutOfMemoryError(
                        "the GPU ran out of memory for this job; try a smaller size"
                    ),
                )
            else:
                log.exception("job %s crashed", job.job_id)
                _resolve(job, error=EngineError(f"internal error: {type(error).__name__}"))
        except Exception as error:
            log.exception("job %s crashed", job.job_id)
            _resolve(job, error=EngineError(f"internal error: {type(error).__name__}"))
        else:
            self._on_finished(job, result.seconds)
            _resolve(job, result=result)

    def _run_operation(self, job: PendingJob) -> GenerationResult:
        request = job.request
        progress = self._progress_sender(job)
        operation = request.operation
        if operation is Operation.TRANSFER:
            return transfer(self.backbones.get(), request, cancel=job.cancel, on_progress=progress)
        if operation is Operation.MIMIC:
            _, region = check_mimic_request(request)  # refused before models load
            if self.mimics.fallback:  # no MimicBrush: the diffusion model's fallback
                result, _ = run_fallback(
                    self.registry.get(request.version),
                    request,
                    region,
                    cancel=job.cancel,
                    on_progress=progress,
                )
                return result
            return run_mimic(self.mimics.get(), request, cancel=job.cancel, on_progress=progress)
        if operation is Operation.FACE_TRAINING:
            from engine.portrait.faces import default_faces
            from engine.portrait.learn import run_face_training

            model = self.registry.get(request.version)
            return run_face_training(
                model, request, default_faces(), cancel=job.cancel, on_progress=progress
            )
        if operation is Operation.PORTRAIT:
            from engine.portrait.faces import default_faces
            from engine.portrait.imagine import run_portraits

            return run_portraits(
                self.registry.get(request.version), request, default_faces(),
                self.loras or LoraLibrary(None), cancel=job.cancel, on_progress=progress,
                on_preview=_grid_preview, house=self.house,
            )  # fmt: skip
        if operation in (Operation.RETEXTURE, Operation.BACKGROUND):
            return self._structure_operation(job, progress)
        return render(
            self.registry.get(request.version),
            request,
            cancel=job.cancel,
            on_progress=progress,
            on_preview=_grid_preview,
            house=self.house,
            loras=self.loras,
        )

    def _structure_operation(
        self, job: PendingJob, progress: Callable[[Progress], None] | None
    ) -> GenerationResult:
        from engine.structure.operation import run_background, run_retexture

        request = job.request
        model = self.registry.get(request.version)
        common: dict[str, Any] = {
            "cancel": job.cancel, "on_progress": progress, "on_preview": _grid_preview,
            "house": self.house, "loras": self.loras,
        }  # fmt: skip
        tools = self.structure
        if request.operation is Operation.RETEXTURE:
            depth = (
                tools.depth()
                if request.retexture and request.retexture.structure == "depth"
                else None
            )
            return run_retexture(model, request, tools.controlnets, depth, **common)
        segmenter = None if request.background and request.background.subject else tools.segmenter()
        return run_background(model, request, segmenter, **common)

    @staticmethod
    def _progress_sender(job: PendingJob) -> Callable[[Progress], None] | None:
        callback = job.on_progress
        if callback is None:
            return None

        def send(progress: Progress) -> None:
            _call_in_loop(job.loop, callback, progress)

        return send


def _grid_preview(images: list[Image.Image]) -> Image.Image:
    grid = compose_grid(images) if len(images) > 1 else images[0]
    return preview(grid, PREVIEW_SIDE)


def _yield_cpu_to_event_loop() -> None:
    """Lower this thread's scheduling priority (and its compute threads', created from it)."""
    if sys.platform != "linux":  # elsewhere a thread id is no process id: leave it
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(
            os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + WORKER_NICENESS
        )
    except OSError as error:  # a sandbox that forbids it: a missed optimisation, not a fault
        log.debug("could not lower the worker thread's priority: %s", error)


def _resolve(
    job: PendingJob, *, result: GenerationResult | None = None, error: BaseException | None = None
) -> None:
    def settle() -> None:
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)  # type: ignore[arg-type]

    _call_in_loop(job.loop, settle)


def _call_in_loop(
    loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any
) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        log.debug("event loop closed; dropped %s", getattr(callback, "__name__", callback))
