"""Scale benchmark: jobs per second through the GPU service with 1, 2, … replicas, the bot's
engine dispatching (``ServeExecutor``) exactly as in production.

CPU (default): starts a local Ray cluster (``ray start --head --num-cpus=N``), deploys the
service with ``mjbot gpu deploy`` (CPU replicas of the tiny model, one core each, batch 1 so
the replica count is the only thing that changes) and times the same burst of grids from
several users at each replica count (target: ≥ 1.8× from 1 to 2 replicas).

GPU cluster: ``--address HEAD:6379 --device cuda --gpus-per-replica 1 --replicas 1,2,4,8``
deploys onto an existing cluster (started by the README's walk-through) and measures the same.

Each burst prints its seconds and the results each replica delivered (``12/12``): an uneven
split means Serve queued runs behind a busy replica while another idled.

Run: .venv/bin/python bench/scale.py [--replicas 1,2] [--jobs 24] [--users 6] [--steps 8]
     [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from engine.engine import Engine, EngineConfig  # noqa: E402 - after the path
from engine.remote.client import ServeExecutor  # noqa: E402
from engine.request import GenerationRequest, WeightedText  # noqa: E402
from tests.gpu.cluster import TOKEN, RayCluster  # noqa: E402


@dataclass(frozen=True)
class Burst:
    seconds: float
    per_worker: list[int]
    """Results each replica delivered."""
    refused: int
    """Runs a service refused (429), each back in the queue."""


async def burst(url: str, jobs: int, users: int, steps: int, cache: Path) -> Burst:
    """``jobs`` grids from ``users`` users, all queued at once."""
    engine = Engine(
        EngineConfig(devices=("cpu",), cache_dir=cache, gpu_urls=(url,), gpu_token=TOKEN)
    )
    await engine.start()
    try:
        began = time.perf_counter()
        handles = [
            engine.submit(
                GenerationRequest(prompt=(WeightedText(f"job {n}"),), seed=n, steps=steps),
                user_id=f"user{n % users}",
            )
            for n in range(jobs)
        ]
        await asyncio.gather(*(handle.future for handle in handles))
        seconds = time.perf_counter() - began
        executor = engine.executor
        assert isinstance(executor, ServeExecutor)  # noqa: S101 - gpu_urls set
        outcomes = Counter(record.outcome for record in executor.history)
        workers = Counter(r.worker for r in executor.history if r.outcome == "result")
        return Burst(seconds, sorted(workers.values(), reverse=True), outcomes["refused"])
    finally:
        await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", default="1,2", help="replica counts to compare")
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--users", type=int, default=6)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3, help="timed bursts each (best counts)")
    parser.add_argument("--address", help="an existing Ray cluster (GPU); default: start one")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--gpus-per-replica", type=float, default=0)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local cluster")
    args = parser.parse_args()
    counts = [int(part) for part in args.replicas.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        cluster = RayCluster(Path(folder) / "data", cpus=args.cpus)
        if args.address:
            cluster.port = int(args.address.rsplit(":", 1)[1])
        else:
            cluster.start()
        try:
            rates: dict[int, float] = {}
            for replicas in counts:
                cluster.deploy(
                    replicas=replicas,
                    batch=1,
                    device=args.device,
                    gpus_per_replica=args.gpus_per_replica,
                )
                cache = Path(folder) / "bot-cache"
                # A first burst loads the model on every replica; the second is measured.
                asyncio.run(burst(cluster.url, 2 * replicas, args.users, 1, cache))
                # The best of a few bursts: on a shared machine neighbours only slow a run down.
                bursts = [
                    asyncio.run(burst(cluster.url, args.jobs, args.users, args.steps, cache))
                    for _ in range(args.runs)
                ]
                rates[replicas] = args.jobs / min(b.seconds for b in bursts)
                shown = ", ".join(
                    f"{b.seconds:.1f} s ({'/'.join(map(str, b.per_worker))}"
                    + (f", {b.refused} refused" if b.refused else "")
                    + ")"
                    for b in bursts
                )
                print(
                    f"{replicas} replica(s): {args.jobs} grids ({args.steps} steps, "
                    f"{args.users} users) in {shown}; best {rates[replicas]:.2f} jobs/s",
                    flush=True,
                )
            base = rates[counts[0]]
            for replicas in counts[1:]:
                ratio = rates[replicas] / base
                print(f"{replicas} vs {counts[0]} replica(s): {ratio:.2f}× (target ≥ 1.8× for 2)")
        finally:
            if not args.address:
                cluster.stop()


if __name__ == "__main__":
    main()
