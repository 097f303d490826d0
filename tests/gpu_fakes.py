"""A GPU service speaking protocol v1 for tests: the real ``engine.remote`` service on a local
engine (``builtin:tiny``) behind the real aiohttp app, with faults to inject per run."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from engine.gpu.http import gpu_app
from engine.gpu.service import GpuService, Run

TOKEN = "test-gpu-token"  # noqa: S105 - the token of a test's own service


class StreamCut(Exception):
    """Raised inside a run's stream: aiohttp drops the connection mid-response."""


@dataclass
class Faults:
    """Faults by run number (1 = the first run the service streams)."""

    cut_after: dict[int, int] = field(default_factory=dict)
    """Run → drop its connection after this many events."""
    stale: set[int] = field(default_factory=set)
    """Runs whose result carries another dispatch id."""
    busy: set[int] = field(default_factory=set)
    """Admissions (1 = the first POST) answered 429 whatever the load."""


class FaultyService(GpuService):
    """The real service, recording what it ran and misbehaving where told to."""

    def __init__(self, *args: object, faults: Faults | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.faults = faults or Faults()
        self.admissions = 0
        self.refused = 0
        self.started: list[Run] = []
        """Runs in the order they began streaming."""

    def admit(self) -> bool:
        self.admissions += 1
        if self.admissions in self.faults.busy:
            self.refused += 1
            return False
        admitted = super().admit()
        self.refused += not admitted
        return admitted

    async def stream(self, run: Run) -> AsyncGenerator[bytes, None]:
        self.started.append(run)
        number = len(self.started)
        cut = self.faults.cut_after.get(number)
        events = super().stream(run)
        try:
            sent = 0
            async for line in events:
                if number in self.faults.stale and b'"event":"result"' in line:
                    line = line.replace(run.dispatch.encode(), b"f" * len(run.dispatch))
                yield line
                sent += 1
                if cut is not None and sent >= cut:
                    raise StreamCut(f"run {number} cut after {sent} events")
        finally:
            await events.aclose()


@contextlib.asynccontextmanager
async def serve_gpu(service: GpuService) -> AsyncIterator[str]:
    """Serve ``service`` on a free loopback port; yields its base URL."""
    runner = web.AppRunner(gpu_app(service), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
