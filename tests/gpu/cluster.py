"""A real local Ray cluster with the GPU service deployed by ``mjbot gpu deploy`` (tier-2
tests and ``bench/scale.py``): ``ray start --head --num-cpus=2 --include-dashboard=false``,
CPU replicas of the tiny model, teardown ``ray stop --force``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TOKEN = "tier2-token"  # noqa: S105 - a throwaway local cluster's token
RAY = Path(sys.executable).with_name("ray")


def free_ports(count: int) -> list[int]:
    """``count`` different free loopback ports (held together while chosen, so never twice)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def free_port() -> int:
    return free_ports(1)[0]


def ray_available() -> bool:
    try:
        import ray.serve  # noqa: F401
    except ImportError:
        return False
    return RAY.exists()


class RayCluster:
    """One head node on loopback; :meth:`deploy` puts the GPU service on it."""

    def __init__(self, data_dir: Path, *, cpus: int = 2) -> None:
        self.data_dir = data_dir
        self.cpus = cpus
        self.port, self.serve_port = free_ports(2)
        # Ray's sockets live under its temp dir: keep the path short (Unix sockets: 107 bytes).
        self.temp_dir = Path(tempfile.mkdtemp(prefix="mjray-", dir="/tmp"))
        self.env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "RAY_USAGE_STATS_ENABLED": "0",
            "OMP_NUM_THREADS": "1",  # one core per replica
            "MJ_DATA_DIR": str(data_dir),
            "MJ_GPU_TOKEN": TOKEN,
            "MJ_MODEL": "builtin:tiny",
        }
        for key in ("MJ_GPU_URL", "MJ_GPU_URLS", "DISCORD_TOKEN"):
            self.env.pop(key, None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.serve_port}"

    def start(self) -> None:
        subprocess.run(
            [
                str(RAY), "start", "--head", f"--num-cpus={self.cpus}", "--num-gpus=0",
                "--include-dashboard=false", f"--port={self.port}",
                "--node-ip-address=127.0.0.1", f"--temp-dir={self.temp_dir}",
                "--object-store-memory=200000000", "--disable-usage-stats",
            ],
            check=True, env=self.env, capture_output=True, timeout=120,
        )  # fmt: skip

    def deploy(
        self,
        *,
        replicas: int = 2,
        batch: int = 2,
        models: dict[str, str] | None = None,
        device: str = "cpu",
        gpus_per_replica: float = 0,
    ) -> None:
        """``mjbot gpu deploy`` on this cluster (CPU replicas); returns once the service
        answers ``/v1/capacity`` with every slot."""
        env = {**self.env, "MJ_BATCH": str(batch), "MJ_MODELS": json.dumps(models or {})}
        subprocess.run(
            [
                sys.executable, "-m", "bot", "gpu", "deploy",
                f"--address=127.0.0.1:{self.port}", "--host=127.0.0.1",
                f"--port={self.serve_port}", f"--replicas={replicas}",
                f"--gpus-per-replica={gpus_per_replica}", "--cpus-per-replica=1",
                f"--device={device}",
            ],
            check=True, env=env, capture_output=True, timeout=300,
        )  # fmt: skip
        self.wait_capacity(replicas * batch)

    def capacity(self) -> dict[str, object]:
        request = urllib.request.Request(  # noqa: S310 - our own loopback URL
            f"{self.url}/v1/capacity", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            data: dict[str, object] = json.load(answer)
            return data

    def wait_capacity(self, slots: int, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.capacity().get("slots") == slots:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the GPU service did not come up with {slots} slots")
            time.sleep(0.5)

    def stop(self) -> None:
        subprocess.run(
            [str(RAY), "stop", "--force"], env=self.env, capture_output=True, timeout=120
        )
        shutil.rmtree(self.temp_dir, ignore_errors=True)
