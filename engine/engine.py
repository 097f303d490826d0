"""The engine as the bot sees it: submit requests from asyncio, await results."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import EngineError, JobCancelledError
from engine.house_style import DEFAULT_HOUSE_STYLES, HouseStyles
from engine.loras import LoraLibrary
from engine.mimic.operation import MimicRegistry
from engine.models import ModelCatalog, ModelRegistry, resolve_device, resolve_dtype
from engine.request import GenerationRequest, GenerationResult, Operation, Progress
from engine.scheduler import FairScheduler, SpeedMode, Ticket
from engine.sizes import size_for_aspect
from engine.structure.tools import StructureTools
from engine.transfer import BackboneRegistry
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


@dataclass(frozen=True, slots=True)
class EngineConfig:
    models: Mapping[str, str] = field(default_factory=lambda: {"default": "builtin:tiny"})
    """Version key (``default``, ``6.1``, ``niji``, ``niji 6``…) → model source."""
    devices: tuple[str, ...] = ("auto",)
    dtype: str = "auto"
    cache_dir: Path = Path("data/models")
    single_file_config: Path | None = None
    sampler: str = "dpm++"
    starvation_s: float | None = 600.0
    steps: int | None = None
    """Sampling steps at ``--q 1`` for every model (default: 30; 8 for built-in models)."""
    ip_adapter: str = "auto"
    """IP-Adapter source for reference images: ``auto``, ``builtin:tiny``, a folder or a Hub
    id laid out like ``h94/IP-Adapter`` (see ``engine/references.py``)."""
    house_styles: HouseStyles = DEFAULT_HOUSE_STYLES
    """The default look, applied with a strength from ``--stylize``; ``--style raw`` leaves
    it out (``engine/house_style.py``)."""
    vgg19: str | None = None
    """Style transfer's VGG19 weights (``MJ_VGG19``): a ``.safetensors``/``.pth`` file or a
    Hub id like ``timm/vgg19.tv_in1k``; ``None``: the built-in random-filter network
    (``engine/transfer/backbone.py``; announce it with ``describe_backbone``)."""
    lora_dir: Path | None = None
    """``--lora``'s folder (``MJ_LORA_DIR``; see ``engine/loras.py``); ``None``: no LoRAs."""
    portrait_dir: Path | None = None
    """Where ``/portrait`` keeps each user's portraits (``<owner>/<name>/``): their face LoRAs
    are named ``portrait:<owner>/<name>``; ``None``: no portraits."""
    controlnets: Mapping[str, str] = field(default_factory=dict)
    """Retexture's ControlNets (``MJ_CONTROLNETS``): ``edges``/``depth``/``sketch`` (``-xl``
    for SDXL) → a Hub id, folder or file, or ``builtin:tiny``; see ``engine/controlnets.py``."""
    depth_model: str | None = "depth-anything/Depth-Anything-V2-Small-hf"
    """Retexture's depth estimator (``MJ_DEPTH_MODEL``; ``builtin:tiny`` for tests)."""
    segmenter: str | None = "grabcut"
    """Change Background's subject finder (``MJ_SEGMENTER``): ``grabcut`` (no weights), a
    salient-object model (BiRefNet, RMBG) by Hub id or folder, ``builtin:tiny``, or ``none``
    (the user marks the subject)."""
    mimicbrush: str | None = None
    """Reference edits' MimicBrush (``MJ_MIMICBRUSH``): a folder laid out like the authors'
    release, or ``builtin:mimic`` (tiny, random); ``None``: the fallback on the diffusion
    model (``engine/mimic/``; announce it with ``describe_mimic``)."""


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
        return self._engine.scheduler.position(self.job_id)

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


class Engine:
    """Fair scheduler in front of one worker thread per device."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.catalog = ModelCatalog(config.models)
        self.scheduler = FairScheduler(starvation_s=config.starvation_s)
        self._jobs: dict[str, PendingJob] = {}
        self._lock = threading.Lock()
        self._workers: list[DeviceWorker] = []
        self._seconds_per_cost = SECONDS_PER_COST_START
        for spec in config.devices:
            device = resolve_device(spec)
            registry = ModelRegistry(
                self.catalog,
                device=device,
                dtype=resolve_dtype(config.dtype, device),
                cache_dir=config.cache_dir,
                single_file_config=config.single_file_config,
                sampler=config.sampler,
                steps=config.steps,
                ip_adapter=config.ip_adapter,
            )
            self._workers.append(
                DeviceWorker(
                    device,
                    registry,
                    self.scheduler,
                    self._claim,
                    self._finished,
                    config.house_styles,
                    BackboneRegistry(config.vgg19, device=device),
                    MimicRegistry(
                        config.mimicbrush,
                        device=device,
                        dtype=resolve_dtype(config.dtype, device),
                    ),
                    LoraLibrary(config.lora_dir, config.portrait_dir),
                    StructureTools(
                        config.controlnets,
                        depth_model=config.depth_model,
                        segmenter=config.segmenter,
                        device=device,
                        dtype=resolve_dtype(config.dtype, device),
                    ),
                )
            )

    @property
    def registries(self) -> list[ModelRegistry]:
        """Each device's models (touch them only before :meth:`start` or on its thread)."""
        return [worker.registry for worker in self._workers]

    async def start(self, *, warm_up: bool = True) -> None:
        """Load the default model on every device (off the event loop), then start serving."""
        if warm_up:
            for worker in self._workers:
                await asyncio.to_thread(worker.registry.get, None)
        for worker in self._workers:
            worker.start()

    async def close(self) -> None:
        """Stop taking jobs; cancel what is queued or running; wait for the threads."""
        self.scheduler.close()
        with self._lock:
            pending = list(self._jobs.values())
            self._jobs.clear()
        for job in pending:
            job.cancel.set()
            if not job.future.done():
                job.future.set_exception(JobCancelledError("the engine is shutting down"))
        for worker in self._workers:
            if worker.current is not None:
                worker.current.cancel.set()
        for worker in self._workers:
            await asyncio.to_thread(worker.join)

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
        job = PendingJob(job_id, request, loop, loop.create_future(), on_progress, cost=cost)
        with self._lock:
            self._jobs[job_id] = job
        if interactive is None:
            interactive = request.operation in INTERACTIVE
        self.scheduler.push(Ticket(job_id, user_id, mode, interactive, cost))
        return JobHandle(job_id, job.future, self)

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job; its future fails with :class:`JobCancelledError`."""
        with self._lock:
            job = self._jobs.pop(job_id, None)
        running = next(
            (
                w.current
                for w in self._workers
                if w.current is not None and w.current.job_id == job_id
            ),
            None,
        )
        if job is None and running is None:
            return False
        target = job or running
        assert target is not None  # noqa: S101 - one of them is set
        target.cancel.set()  # a running job stops at its next step
        if self.scheduler.remove(job_id) and not target.future.done():
            target.future.set_exception(JobCancelledError("cancelled while queued"))
        return True

    def estimated_wait(self, job_id: str) -> float | None:
        ahead = self.scheduler.estimated_wait(job_id)
        if ahead is None:
            return None
        return ahead * self._seconds_per_cost / max(1, len(self._workers))

    def _claim(self, job_id: str) -> PendingJob | None:
        with self._lock:
            return self._jobs.pop(job_id, None)

    def _finished(self, job: PendingJob, seconds: float) -> None:
        # An exponential average of measured speed keeps queue estimates honest.
        measured = seconds / job.cost
        self._seconds_per_cost = 0.8 * self._seconds_per_cost + 0.2 * measured
