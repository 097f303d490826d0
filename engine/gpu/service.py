"""The GPU side of protocol v1: run wire requests on a local engine, stream their events.

Framework-free: ``engine.gpu.http`` (aiohttp) and ``engine.gpu.serve_app`` (Ray Serve)
put it behind HTTP. The caller decides 401 (:meth:`GpuService.authorized`), 429
(:meth:`GpuService.admit`) and 400 (:func:`~engine.remote.wire.decode_request` raising
:class:`~engine.remote.wire.WireError`) before the stream starts; once it has started, every
outcome is an event. When the client goes away the stream is closed and the job cancelled:
the engine's step callback stops it within one step.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.engine import Engine, JobHandle
from engine.errors import EngineError
from engine.remote.blobs import (
    Portraits,
    portrait_path,
    read_portraits,
    training_ref,
    write_portraits,
)
from engine.remote.wire import (
    PROTOCOL,
    ErrorCode,
    code_for,
    decode_request,
    encode_progress,
    encode_result,
    event_line,
)
from engine.request import GenerationRequest, GenerationResult, Progress

__all__ = ["GpuService", "Run", "Started", "bearer_matches", "portraits_folder"]

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 1.0
PREVIEW_INTERVAL_S = 3.0
PORTRAITS_PREFIX = "mjbot-portraits-"
HEARTBEAT_S = 2.0
"""While queued or loading a model, a ``waiting`` event this often: the client tells a slow
start from a dead worker, and a vanished client is noticed at the next write."""


@dataclass(frozen=True, slots=True)
class Run:
    """A decoded ``POST /v1/run``."""

    request: GenerationRequest
    job: str
    dispatch: str
    portraits: Portraits = field(default_factory=dict)
    """The files of the portraits it uses, to write before it runs (:meth:`GpuService.prepare`)."""


@dataclass(frozen=True, slots=True)
class Started:
    """A run queued on the engine."""

    run: Run
    handle: JobHandle
    updates: asyncio.Queue[Progress]


class GpuService:
    """Runs protocol-v1 requests on ``engine`` (its devices), at most ``slots`` at once plus
    ``backlog`` waiting; more are refused with 429 so the bot keeps them in its fair queue."""

    def __init__(
        self,
        engine: Engine,
        token: str | None,
        *,
        slots: int,
        backlog: int = 0,
        name: str = "gpu",
        progress_interval_s: float = PROGRESS_INTERVAL_S,
        preview_interval_s: float = PREVIEW_INTERVAL_S,
    ) -> None:
        if not token:
            raise ValueError("a GPU service needs a token (MJ_GPU_TOKEN): it runs anyone's jobs")
        self.engine = engine
        self._token = token.encode()
        self.slots = slots
        self.backlog = backlog
        self.name = name
        self.progress_interval_s = progress_interval_s
        self.preview_interval_s = preview_interval_s
        self.active = 0
        self.cancelled = 0
        """Runs stopped because their client went away (tests and logs read it)."""
        self._in_use: Counter[str] = Counter()
        """Portrait folder → runs using it (deleted at 0)."""
        self.outcomes: dict[str, str] = {}
        """Dispatch id → ``result``, an error code, or ``gone`` (client went away)."""

    def authorized(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries the token (constant-time compare)."""
        return bearer_matches(header, self._token)

    def capacity(self) -> dict[str, Any]:
        return {
            "protocol": PROTOCOL,
            "worker": self.name,
            "slots": self.slots,
            "running": self.active,
            "models": sorted(self.engine.catalog.sources),
        }

    def admit(self) -> bool:
        """Take a run if there is room (call :meth:`stream` next, which frees it)."""
        if self.active >= self.slots + self.backlog:
            return False
        self.active += 1
        return True

    def release(self) -> None:
        """Give back a slot :meth:`admit` took for a run that never streamed (a bad body)."""
        self.active -= 1

    @property
    def portraits(self) -> Path | None:
        """Where this worker keeps the portraits that travel with runs (``MJ_DATA_DIR``)."""
        return self.engine.config.portrait_dir

    def decode(self, body: Any) -> Run:
        request, job, dispatch, portraits = decode_request(body, portraits=self.portraits)
        return Run(request, job, dispatch, portraits)

    async def prepare(self, run: Run) -> None:
        """Write the portrait files ``run`` brought (off the loop), before :meth:`start`. A
        portrait's folder (a training's too) is deleted as soon as no run of this worker uses
        it: a worker keeps nobody's face (give each worker process a portraits folder of its
        own: ``mjbot gpu`` uses a temporary one)."""
        self._in_use.update(_refs(run, self.portraits))
        if run.portraits:
            try:
                await asyncio.to_thread(write_portraits, self.portraits, run.portraits)
            except BaseException:
                self._release(run)
                raise

    def _release(self, run: Run) -> None:
        for ref in _refs(run, self.portraits):
            if self._in_use[ref] <= 0:  # never prepared (or already released)
                continue
            self._in_use[ref] -= 1
            if self._in_use[ref] == 0 and self.portraits is not None:
                del self._in_use[ref]
                folder = portrait_path(ref, self.portraits, "portraits")
                shutil.rmtree(folder, ignore_errors=True)  # three small files
                with contextlib.suppress(OSError):
                    folder.parent.rmdir()  # the owner's folder, once empty

    def start(self, run: Run) -> Started:
        """Queue the run on the engine (call on the event loop; :meth:`events` streams it)."""
        updates: asyncio.Queue[Progress] = asyncio.Queue()
        handle = self.engine.submit(
            run.request, job_id=f"{run.job}/{run.dispatch}", on_progress=updates.put_nowait
        )
        return Started(run, handle, updates)

    def stream(self, run: Run) -> AsyncGenerator[bytes, None]:
        """The run's NDJSON events; closing the iterator early cancels the job."""
        return self.events(self.start(run))

    async def events(self, started: Started) -> AsyncGenerator[bytes, None]:
        """A started run's NDJSON events; closing the iterator early cancels the job."""
        run, handle, updates = started.run, started.handle, started.updates
        finished = False
        try:
            yield event_line({"event": "accepted", "dispatch": run.dispatch, "worker": self.name})
            last_progress = last_preview = 0.0
            while not handle.future.done():
                getter = asyncio.ensure_future(updates.get())
                waited: set[asyncio.Future[Any]] = {getter, handle.future}
                await asyncio.wait(waited, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    if not handle.future.done():
                        yield event_line({"event": "waiting"})
                    continue
                progress = getter.result()
                now = time.monotonic()
                preview = (
                    progress.preview is not None and now - last_preview >= self.preview_interval_s
                )
                last = progress.step >= progress.total  # 100% is always said
                if preview or last or now - last_progress >= self.progress_interval_s:
                    event = encode_progress(progress, with_preview=preview)
                    last_progress, last_preview = now, now if preview else last_preview
                    yield event_line(event)
            finished = True
            outcome, line = await self._outcome(run, handle.future)
            self.outcomes[run.dispatch] = outcome
            yield line
        finally:
            if not finished:  # the client went away (or the server stops): stop the job
                self.cancelled += 1
                self.outcomes[run.dispatch] = "gone"
                handle.cancel()
                handle.future.add_done_callback(_retrieved)  # nobody awaits it any more
                handle.future.add_done_callback(lambda _: self._release(run))  # once it stops
                log.info("run %s/%s: client gone, cancelled", run.job, run.dispatch)
            else:
                self._release(run)
            self.active -= 1

    async def _outcome(self, run: Run, future: asyncio.Future[Any]) -> tuple[str, bytes]:
        """``result`` or the error code, and the event line that says it."""
        try:
            result = future.result()
        except EngineError as error:
            code = code_for(error)
            return str(code), _error(run, code, error)
        # PNG and JSON encoding (megabytes for four large cells): off the loop.
        return "result", await asyncio.to_thread(_result_line, run, result, self.portraits)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.engine.close()


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def bearer_matches(header: str | None, token: bytes) -> bool:
    """Whether an ``Authorization`` header is ``Bearer <token>`` (constant-time compare)."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token)


def portraits_folder() -> Path:
    """A new temporary portraits folder for this worker process. Empty ones that processes
    killed earlier left behind are removed first (a live worker's, empty between runs, is
    made again by its next run: :func:`~engine.remote.blobs.write_portraits`)."""
    for stale in Path(tempfile.gettempdir()).glob(f"{PORTRAITS_PREFIX}*"):
        with contextlib.suppress(OSError):
            stale.rmdir()  # only if empty
    return Path(tempfile.mkdtemp(prefix=PORTRAITS_PREFIX))


def _refs(run: Run, root: Path | None) -> set[str]:
    """The portrait folders ``run`` writes on this worker (brought, or trained)."""
    trained = training_ref(run.request, root)
    return set(run.portraits) | ({trained} if trained else set())


def _result_line(run: Run, result: GenerationResult, root: Path | None) -> bytes:
    trained = training_ref(run.request, root)  # a training's new folder goes back to the bot
    encoded = encode_result(result, read_portraits(root, [trained]) if trained else None)
    return event_line({"event": "result", "dispatch": run.dispatch, "result": encoded})


def _error(run: Run, code: ErrorCode, error: BaseException) -> bytes:
    return event_line(
        {"event": "error", "dispatch": run.dispatch, "code": str(code), "message": str(error)}
    )
