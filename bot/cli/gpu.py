"""``mjbot gpu``: this machine renders for a bot on another (protocol v1, ``engine.remote``).

* ``mjbot gpu serve`` — one GPU box without Ray: the service on this machine's ``MJ_DEVICE``
  (aiohttp), until Ctrl-C.
* ``mjbot gpu deploy`` — on a Ray cluster's head: the Ray Serve application, one replica per
  GPU across the cluster's nodes; returns once deployed (it keeps running in the cluster).

Both read the same settings as the bot (models, steps, ``MJ_GPU_TOKEN``…): set them alike on
every machine, with the same versions installed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import signal
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["add_gpu", "run_gpu"]

log = logging.getLogger(__name__)


def add_gpu(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gpu = commands.add_parser(
        "gpu",
        help="render for a bot on another machine (GPU worker)",
        description="Run this machine's GPUs for a bot elsewhere, which sets MJ_GPU_URL to "
        "this service and the same MJ_GPU_TOKEN. See README, 'Past one machine'.",
    )
    actions = gpu.add_subparsers(title="actions", metavar="ACTION", required=True)
    serve = actions.add_parser(
        "serve",
        help="one GPU box without Ray: serve on this machine until Ctrl-C",
        description="Serve protocol v1 (POST /v1/run, GET /v1/capacity) from this machine's "
        "MJ_DEVICE. Requires MJ_GPU_TOKEN.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.set_defaults(command="gpu", run=run_gpu, action="serve")
    deploy = actions.add_parser(
        "deploy",
        help="deploy the Ray Serve application on the running Ray cluster",
        description="Deploy (or update) the GPU workers as a Ray Serve application on the "
        "cluster started with `ray start --head` here, one replica per GPU. Needs the gpu "
        "extra (pip install 'mjbot[gpu]') and MJ_GPU_TOKEN.",
    )
    deploy.add_argument("--address", default="auto", help="Ray cluster address (default auto)")
    deploy.add_argument("--host", default="0.0.0.0", help="Serve's HTTP address")  # noqa: S104
    deploy.add_argument("--port", type=int, default=8000, help="Serve's HTTP port")
    deploy.add_argument("--replicas", type=int, default=1, help="replicas (one per GPU)")
    deploy.add_argument("--gpus-per-replica", type=float, default=1.0, help="0 on CPU")
    deploy.add_argument("--cpus-per-replica", type=float, default=1.0)
    deploy.add_argument("--device", default="cuda", help="each replica's device (cuda, cpu)")
    deploy.set_defaults(command="gpu", run=run_gpu, action="deploy")


def run_gpu(args: argparse.Namespace) -> int:
    from bot.config import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    if settings.mj_gpu_token is None:
        print("MJ_GPU_TOKEN is required: the service runs anyone's jobs", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.mj_log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.action == "deploy":
        return _deploy(settings, args)
    return asyncio.run(_serve(settings, args.host, args.port))


def _deploy(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from engine.gpu.serve_app import ReplicaSettings, deploy
    except ImportError as error:
        print(f"Ray Serve is not installed ({error}): pip install 'mjbot[gpu]'", file=sys.stderr)
        return 2
    assert settings.mj_gpu_token is not None  # noqa: S101 - checked by the caller
    replica = ReplicaSettings(
        settings.engine_config(local=True),
        settings.mj_gpu_token.get_secret_value(),
        batch=settings.mj_batch,
        replicas=args.replicas,
        device=args.device,
    )
    deploy(
        replica,
        address=args.address,
        host=args.host,
        port=args.port,
        num_gpus=args.gpus_per_replica,
        num_cpus=args.cpus_per_replica,
    )
    url = f"http://<this host>:{args.port}"
    print(f"deployed: {args.replicas} replicas; the bot sets MJ_GPU_URL={url}")
    return 0


async def _serve(settings: Settings, host: str, port: int) -> int:
    from aiohttp import web

    from engine.engine import Engine
    from engine.gpu.http import gpu_app
    from engine.gpu.service import GpuService, portraits_folder

    assert settings.mj_gpu_token is not None  # noqa: S101 - checked by the caller
    # Portraits arrive with the jobs that use them and are deleted after: a folder of this
    # process's own, gone when it stops.
    portraits = portraits_folder()
    config = replace(settings.engine_config(local=True), portrait_dir=portraits)
    engine = Engine(config)
    await engine.start()
    slots = len(engine.registries) * settings.mj_batch
    service = GpuService(engine, settings.mj_gpu_token.get_secret_value(), slots=slots)
    runner = web.AppRunner(gpu_app(service), handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("GPU service on http://%s:%d (%d slots)", host, port, slots)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()  # stops the engine too
    shutil.rmtree(portraits, ignore_errors=True)
    return 0
