"""Where the engine's jobs run: the seam between the fair scheduler and the GPUs.

The :class:`~engine.engine.Engine` owns the queue (a :class:`~engine.scheduler.FairScheduler`)
and the jobs; an :class:`Executor` takes tickets from that queue in its order and runs them:

* :class:`LocalExecutor` — one worker thread per local device (``engine.worker``), each taking
  the next ticket when it is free.
* :class:`~engine.remote.client.ServeExecutor` — GPU workers on other machines (a Ray Serve
  application, ``engine.remote``) over HTTP; it takes a ticket only when a remote slot is free,
  so the remote side never reorders users.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from engine.config import EngineConfig
from engine.loras import LoraLibrary
from engine.mimic.operation import MimicRegistry
from engine.models import ModelCatalog, ModelRegistry, resolve_device, resolve_dtype
from engine.scheduler import FairScheduler
from engine.structure.tools import StructureTools
from engine.transfer import BackboneRegistry
from engine.worker import DeviceWorker, PendingJob

__all__ = ["Claim", "Executor", "Finished", "LocalExecutor"]

Claim = Callable[[str], PendingJob | None]
"""Take a dequeued job's record (``None``: it was cancelled meanwhile)."""
Finished = Callable[[PendingJob, float], None]
"""Report a job's measured seconds (the engine's speed estimate)."""


class Executor(Protocol):
    """Runs the tickets of one scheduler. Every method is called on the event loop."""

    @property
    def parallelism(self) -> int:
        """How many jobs run at once (for wait estimates)."""

    async def start(self, *, warm_up: bool) -> None:
        """Begin taking tickets (``warm_up``: load the default model first)."""

    def wake(self) -> None:
        """A ticket was queued."""

    def running(self, job_id: str) -> PendingJob | None:
        """The job if it was taken from the queue and has not finished."""

    def cancel(self, job_id: str) -> None:
        """Stop a running job (its cancel event is already set)."""

    async def close(self) -> None:
        """Stop taking tickets, stop what runs (their futures fail) and wait for it."""


class LocalExecutor:
    """One worker thread per configured local device (``EngineConfig.devices``)."""

    def __init__(
        self,
        config: EngineConfig,
        catalog: ModelCatalog,
        scheduler: FairScheduler,
        claim: Claim,
        finished: Finished,
        peek: Claim | None = None,
    ) -> None:
        self.workers: list[DeviceWorker] = []
        for spec in config.devices:
            device = resolve_device(spec)
            dtype = resolve_dtype(config.dtype, device)
            registry = ModelRegistry(
                catalog,
                device=device,
                dtype=dtype,
                cache_dir=config.cache_dir,
                single_file_config=config.single_file_config,
                sampler=config.sampler,
                steps=config.steps,
                ip_adapter=config.ip_adapter,
                speed=config.speed,
            )
            self.workers.append(
                DeviceWorker(
                    device,
                    registry,
                    scheduler,
                    claim,
                    finished,
                    config.house_styles,
                    BackboneRegistry(config.vgg19, device=device),
                    MimicRegistry(config.mimicbrush, device=device, dtype=dtype),
                    LoraLibrary(config.lora_dir, config.portrait_dir),
                    StructureTools(
                        config.controlnets,
                        depth_model=config.depth_model,
                        segmenter=config.segmenter,
                        device=device,
                        dtype=dtype,
                    ),
                    max_batch=config.max_batch,
                    peek=peek,
                )
            )

    @property
    def parallelism(self) -> int:
        return len(self.workers)

    async def start(self, *, warm_up: bool) -> None:
        if warm_up:  # off the event loop: loading takes seconds to minutes
            for worker in self.workers:
                await asyncio.to_thread(worker.registry.get, None)
        for worker in self.workers:
            worker.start()

    def wake(self) -> None:
        """The workers wait on the scheduler themselves."""

    def running(self, job_id: str) -> PendingJob | None:
        for worker in self.workers:
            for job in list(worker.running):
                if job.job_id == job_id:
                    return job
        return None

    def cancel(self, job_id: str) -> None:
        """The worker checks the job's cancel event at every step."""

    async def close(self) -> None:
        for worker in self.workers:
            for job in list(worker.running):
                job.cancel.set()
        for worker in self.workers:
            await asyncio.to_thread(worker.join)
