"""The GPU service as a Ray Serve application (``mjbot gpu deploy``); the only module that
imports Ray (the ``gpu`` extra), and only where it runs: on the GPU cluster.

One replica per GPU (``num_gpus: 1``), each a local :class:`~engine.engine.Engine` on its
device behind the protocol-v1 :class:`~engine.gpu.service.GpuService`:

* ``@serve.multiplexed`` loads a model by the ``serve_multiplexed_model_id`` header (the
  model's catalog key), so Serve routes a request to a replica that has it loaded; every
  replica loads the default model as it starts;
* a replica takes exactly ``batch`` runs (``max_ongoing_requests``): when the replicas that
  hold a model are full, Serve's router sends the next run to another replica (which loads
  the model) instead of queuing it behind a busy one while a GPU idles;
* ``GET /v1/capacity`` is a deployment of its own (``GpuCapacity``, no GPU): it counts the
  replicas that are running now, and never waits behind runs for a replica's slot;
* ``@serve.batch`` collects the runs that arrive together and queues them on the engine in
  one go, where the worker renders compatible ones (same model, size, steps, guidance) in one
  pipeline call — each keeps its own seeds, prompt and progress stream;
* a client that goes away (cancel, bot restart) closes the stream: Serve cancels the handler,
  the stream's ``finally`` cancels the engine job, which stops within one step.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
from dataclasses import dataclass, replace
from typing import Any

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from engine.catalog import DEFAULT_VERSION
from engine.config import EngineConfig
from engine.engine import Engine
from engine.errors import EngineError
from engine.gpu.service import GpuService, Run, Started, bearer_matches, portraits_folder
from engine.remote.wire import PROTOCOL, WireError

__all__ = [
    "APP_NAME",
    "CAPACITY_APP_NAME",
    "ReplicaSettings",
    "capacity_application",
    "deploy",
    "gpu_application",
]

log = logging.getLogger(__name__)

APP_NAME = "mjbot-gpu"
CAPACITY_APP_NAME = "mjbot-gpu-capacity"
REPLICA_DEPLOYMENT = "GpuReplica"
BATCH_WINDOW_S = 0.05
"""How long a replica's first run waits for others to start with it (the bot dispatches the
runs for freed slots together, milliseconds apart)."""


@dataclass(frozen=True, slots=True)
class ReplicaSettings:
    """What every replica is built with (sent by ``mjbot gpu deploy``)."""

    engine: EngineConfig
    token: str
    batch: int = 4
    """Runs a replica takes at once (and renders as one batch where compatible)."""
    replicas: int = 1
    device: str = "cuda"


class GpuReplica:
    """One GPU's worth of the service."""

    def __init__(self, settings: ReplicaSettings) -> None:
        self.settings = settings
        self.portraits = portraits_folder()
        """This replica's own folder for the portraits that travel with its runs."""
        config = replace(
            settings.engine,
            devices=(settings.device,),
            gpu_urls=(),
            max_batch=settings.batch,
            portrait_dir=self.portraits,
        )
        self.engine = Engine(config)
        context = serve.get_replica_context()
        replica = getattr(context.replica_id, "unique_id", None) or str(context.replica_id)
        self.service = GpuService(
            self.engine,
            settings.token,
            slots=settings.batch,  # Serve sends no more (max_ongoing_requests); more get 429
            name=f"{replica}@{socket.gethostname()}:{os.getpid()}",
        )
        self._started: asyncio.Task[None] | None = None
        # A replica never holds more than `batch` runs: a full batch starts at once, without
        # waiting out the window (batch 1: every run at once).
        batcher: Any = self._start_together  # Serve's wrapper (its type hides the setter)
        batcher.set_max_batch_size(settings.batch)
        # Serve builds a replica on its event loop: load the default model in the background
        # (the router learns of it as it loads and already prefers this replica for it).
        self._preload = asyncio.get_running_loop().create_task(self._load_default())

    def __del__(self) -> None:  # Serve calls it as the replica shuts down
        shutil.rmtree(self.portraits, ignore_errors=True)

    async def _load_default(self) -> None:
        try:
            await self.get_model(DEFAULT_VERSION)
        except Exception:  # a broken model: its runs get the error as a 400, by name
            log.exception("could not load the default model")

    async def _start(self) -> None:
        if self._started is None:
            self._started = asyncio.ensure_future(self.engine.start(warm_up=False))
        await asyncio.shield(self._started)

    @serve.multiplexed(max_num_models_per_replica=3)  # type: ignore[untyped-decorator]
    async def get_model(self, model_id: str) -> str:
        """Load a model (off the event loop) so this replica is preferred for its requests."""
        await self._start()
        version = None if model_id == DEFAULT_VERSION else model_id
        await asyncio.to_thread(self.engine.registries[0].get, version)
        return model_id

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=BATCH_WINDOW_S)
    async def _start_together(self, runs: list[Run]) -> list[Started]:
        return [self.service.start(run) for run in runs]

    async def __call__(self, request: Request) -> Response:
        if not self.service.authorized(request.headers.get("authorization")):
            return _unauthorized()
        path = request.url.path.rstrip("/")
        if not (path.endswith("/v1/run") and request.method == "POST"):
            return _json("not_found", f"no {request.method} {path}", 404)
        if not self.service.admit():
            return _json("busy", "this replica is full", 429, {"Retry-After": "1"})
        try:
            run = self.service.decode(json.loads(await request.body()))
            key = self.engine.catalog.key_for(run.request.version)
            wanted = serve.get_multiplexed_model_id() or key
            if wanted != key:
                raise WireError(f"the model header says {wanted!r} but the request is for {key!r}")
            await self.get_model(key)
            await self.service.prepare(run)  # the portraits it uses, in this replica's folder
        except (EngineError, ValueError) as error:  # a bad body, an unknown or broken model
            self.service.release()
            return _json("bad_request", str(error), 400)
        except BaseException:
            self.service.release()
            raise
        started = await self._start_together(run)
        return StreamingResponse(self.service.events(started), media_type="application/x-ndjson")


class GpuCapacity:
    """``GET /v1/capacity``: slots = running replicas × batch (what the bot may have in flight)."""

    def __init__(self, settings: ReplicaSettings) -> None:
        self.settings = settings
        self.token = settings.token.encode()
        self.models = sorted(settings.engine.models) or [DEFAULT_VERSION]

    async def __call__(self, request: Request) -> Response:
        if not bearer_matches(request.headers.get("authorization"), self.token):
            return _unauthorized()
        if request.method != "GET":
            return _json("not_found", f"no {request.method} {request.url.path}", 404)
        replicas = await asyncio.to_thread(running_replicas)
        if replicas is None:  # the controller did not answer: say what was deployed
            replicas = self.settings.replicas
        return JSONResponse(
            {
                "protocol": PROTOCOL,
                "worker": APP_NAME,
                "replicas": replicas,
                "slots": replicas * self.settings.batch,
                "models": self.models,
            }
        )


def running_replicas() -> int | None:
    """How many replicas of the GPU application are running (blocks: call off the loop)."""
    try:
        status = serve.status().applications[APP_NAME].deployments[REPLICA_DEPLOYMENT]
    except Exception:  # no controller, no application yet
        log.warning("no replica count from Serve's controller", exc_info=True)
        return None
    return sum(n for state, n in status.replica_states.items() if state == "RUNNING")


def _unauthorized() -> Response:
    return _json("unauthorized", "missing or wrong bearer token (MJ_GPU_TOKEN)", 401)


def _json(error: str, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)


def gpu_application(settings: ReplicaSettings, *, num_gpus: float, num_cpus: float) -> Any:
    """The Serve application: ``settings.replicas`` replicas of :class:`GpuReplica`."""
    deployment = serve.deployment(
        name=REPLICA_DEPLOYMENT,
        num_replicas=settings.replicas,
        ray_actor_options={"num_gpus": num_gpus, "num_cpus": num_cpus},
        # Exactly its slots: a run Serve cannot place on a replica holding its model goes to
        # another replica rather than waiting behind a busy one (the bot sends ≤ all slots).
        max_ongoing_requests=settings.batch,
        health_check_period_s=2,
        graceful_shutdown_timeout_s=5,
    )(GpuReplica)
    return deployment.bind(settings)


def capacity_application(settings: ReplicaSettings) -> Any:
    """The capacity answer as an application of its own (no GPU, a sliver of a CPU)."""
    deployment = serve.deployment(
        name="GpuCapacity", num_replicas=1, ray_actor_options={"num_cpus": 0}
    )(GpuCapacity)
    return deployment.bind(settings)


def deploy(
    settings: ReplicaSettings,
    *,
    address: str = "auto",
    host: str = "0.0.0.0",  # noqa: S104 - the bearer token guards it; see README
    port: int = 8000,
    num_gpus: float = 1,
    num_cpus: float = 1,
) -> None:
    """Deploy (or update) the application on the running cluster at ``address`` and return;
    the application keeps running after this driver exits."""
    import ray

    ray.init(address=address, namespace="mjbot", log_to_driver=False)
    serve.start(http_options={"host": host, "port": port})
    application = gpu_application(settings, num_gpus=num_gpus, num_cpus=num_cpus)
    serve.run(application, name=APP_NAME, route_prefix="/", blocking=False)
    capacity = capacity_application(settings)
    serve.run(capacity, name=CAPACITY_APP_NAME, route_prefix="/v1/capacity", blocking=False)
    log.info("%s: %d replicas on %s:%d", APP_NAME, settings.replicas, host, port)
