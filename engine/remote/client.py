"""The bot's side of remote GPU workers: :class:`ServeExecutor` (protocol v1 over aiohttp).

It takes a ticket from the fair scheduler only when a remote slot is free (each service's
``/v1/capacity``: replicas × batch size), so the GPU side never holds a queue of its own and
never reorders users. A run's fate:

* ``result`` for this dispatch → the job's future; a result for any other dispatch is stale
  and ignored (the stream then ends without an answer: lost, below).
* ``error`` → the job fails with the typed error (``oom``, ``bad_request``, ``failed``); a
  ``worker_lost`` error is a lost run.
* 429, 503 or no connection → the ticket goes back to the head of its user's queue (no attempt
  spent) and the service rests a moment.
* a dropped or silent stream (replica killed, node lost) → lost: back to the head of the
  user's queue with ``attempt + 1``; after ``max_attempts`` the job fails.
* cancel → the stream is closed; the service cancels the job within a step.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from engine.errors import EngineError, InvalidRequestError, JobCancelledError, WorkerLostError
from engine.executors import Claim, Finished
from engine.models import ModelCatalog
from engine.remote.blobs import write_portraits
from engine.remote.wire import (
    WireError,
    decode_progress,
    decode_result,
    encode_request,
    error_for,
    ndjson_lines,
    parse_event,
)
from engine.request import GenerationResult
from engine.scheduler import FairScheduler
from engine.worker import PendingJob

__all__ = ["MODEL_HEADER", "Dispatch", "ServeExecutor"]

log = logging.getLogger(__name__)

MODEL_HEADER = "serve_multiplexed_model_id"
"""Ray Serve routes a request to a replica that has this model loaded."""
REST_S = 2.0
"""How long a service that refused (429/503) or could not be reached gets no new runs."""
STALL_S = 120.0
"""A stream silent this long is lost (the service sends a heartbeat every ~2 s)."""
REFRESH_S = 10.0
LARGE_LINE = 1 << 16
"""Event lines longer than this (results) are parsed on a thread."""


HISTORY = 10_000


@dataclass(slots=True)
class Dispatch:
    """One run of a job on a GPU service."""

    job: str
    dispatch: str
    url: str
    worker: str | None = None
    """The worker that accepted it (``replica@host:pid``), once it said so."""
    outcome: str = "running"
    """``result``, ``refused``, ``lost``, ``cancelled`` or ``failed``."""


class _Refused(Exception):
    """The service did not take the run (busy or unreachable): no attempt was spent."""


class _Lost(Exception):
    """The run started but its stream ended without an answer."""


@dataclass(eq=False, slots=True)
class _Endpoint:
    url: str
    slots: int = 0
    busy: int = 0
    rest_until: float = 0.0

    def free(self, now: float) -> int:
        return 0 if now < self.rest_until else max(0, self.slots - self.busy)


class ServeExecutor:
    """Runs a scheduler's tickets on remote GPU services (``mjbot gpu``)."""

    def __init__(
        self,
        urls: Sequence[str],
        token: str | None,
        scheduler: FairScheduler,
        catalog: ModelCatalog,
        claim: Claim,
        finished: Finished,
        give_back: Callable[[PendingJob], bool],
        *,
        max_attempts: int = 3,
        stall_s: float = STALL_S,
        rest_s: float = REST_S,
        portraits: Path | None = None,
    ) -> None:
        if not urls:
            raise ValueError("no GPU service URL")
        self.endpoints = [_Endpoint(url.rstrip("/")) for url in urls]
        self._token = token or ""
        self._scheduler = scheduler
        self._catalog = catalog
        self._claim = claim
        self._finished = finished
        self._give_back = give_back
        self.max_attempts = max_attempts
        self.stall_s = stall_s
        self.rest_s = rest_s
        self.portraits = portraits
        """The portraits root (``EngineConfig.portrait_dir``): face LoRAs travel from it, a
        remote training's folder is written into it."""
        self._wake = asyncio.Event()
        self._running: dict[str, tuple[PendingJob, asyncio.Task[None]]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self.dispatched = 0
        """Runs sent (tests and the load test read it)."""
        self.history: deque[Dispatch] = deque(maxlen=HISTORY)
        """The latest runs, oldest first: which worker had which job, and how it ended."""

    @property
    def parallelism(self) -> int:
        return max(1, sum(endpoint.slots for endpoint in self.endpoints))

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def start(self, *, warm_up: bool) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=self.stall_s)
        )
        await self.refresh()
        self._tasks = [
            asyncio.create_task(self._dispatch_loop(), name="gpu-dispatch"),
            asyncio.create_task(self._refresh_loop(), name="gpu-capacity"),
        ]

    async def refresh(self) -> None:
        """Ask every service for its capacity (an unreachable one keeps what it said last)."""
        await asyncio.gather(*(self._refresh(endpoint) for endpoint in self.endpoints))
        self.wake()

    async def _refresh(self, endpoint: _Endpoint) -> None:
        assert self._session is not None  # noqa: S101 - started
        try:
            async with self._session.get(
                f"{endpoint.url}/v1/capacity",
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                if response.status == 401:
                    log.error("%s refused MJ_GPU_TOKEN (401)", endpoint.url)
                    endpoint.slots = 0
                    return
                response.raise_for_status()
                slots = (await response.json()).get("slots")
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.warning("%s: no capacity answer (%s)", endpoint.url, error)
            return
        if isinstance(slots, int) and slots >= 0 and slots != endpoint.slots:
            log.info("%s: %d slots", endpoint.url, slots)
            endpoint.slots = slots

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            await self.refresh()

    def wake(self) -> None:
        self._wake.set()

    def running(self, job_id: str) -> PendingJob | None:
        entry = self._running.get(job_id)
        return None if entry is None else entry[0]

    def cancel(self, job_id: str) -> None:
        entry = self._running.get(job_id)
        if entry is not None:
            entry[1].cancel()  # closes the stream: the service stops the job

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        running = list(self._running.values())
        for job, task in running:
            job.cancel.set()
            task.cancel()
        await asyncio.gather(*self._tasks, *(task for _, task in running), return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # -- dispatching -----------------------------------------------------------------------

    def _free_endpoint(self) -> _Endpoint | None:
        now = time.monotonic()
        best = max(self.endpoints, key=lambda endpoint: endpoint.free(now))
        return best if best.free(now) > 0 else None

    async def _dispatch_loop(self) -> None:
        while not self._closed:
            self._wake.clear()
            endpoint = self._free_endpoint()
            ticket = self._scheduler.pop() if endpoint is not None else None
            if endpoint is None or ticket is None:
                # Woken by a new ticket, a finished run, a capacity answer, or a rest ending.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.rest_s)
                continue
            job = self._claim(ticket.job_id)
            if job is None:  # cancelled while queued
                continue
            endpoint.busy += 1
            self.dispatched += 1
            task = asyncio.create_task(self._run(job, endpoint), name=f"gpu-run-{job.job_id}")
            self._running[job.job_id] = (job, task)

    async def _run(self, job: PendingJob, endpoint: _Endpoint) -> None:
        dispatch = uuid.uuid4().hex
        job.dispatch = dispatch
        record = Dispatch(job.job_id, dispatch, endpoint.url)
        self.history.append(record)
        try:
            result = await self._stream(job, endpoint, record)
        except asyncio.CancelledError:
            record.outcome = "cancelled"
            _settle(job, error=JobCancelledError("cancelled while running"))
        except _Refused as refusal:
            record.outcome = "refused"
            log.info(
                "job %s: %s refused (%s); back in the queue", job.job_id, endpoint.url, refusal
            )
            endpoint.rest_until = time.monotonic() + self.rest_s
            self._return(job)
        except (_Lost, aiohttp.ClientError, TimeoutError, WireError) as lost:
            record.outcome = "lost"
            self._lost(job, endpoint, lost)
        except EngineError as error:
            record.outcome = "failed"
            _settle(job, error=error)
        except Exception as error:  # a bug must fail the job, never leave it waiting forever
            record.outcome = "failed"
            log.exception("job %s: remote run crashed", job.job_id)
            _settle(job, error=EngineError(f"internal error: {type(error).__name__}"))
        else:
            record.outcome = "result"
            self._finished(job, result.seconds)
            _settle(job, result=result)
        finally:
            endpoint.busy -= 1
            self._running.pop(job.job_id, None)
            self.wake()

    def _return(self, job: PendingJob) -> None:
        if not self._closed and not self._give_back(job):
            _settle(job, error=JobCancelledError("cancelled while waiting to run again"))

    def _lost(self, job: PendingJob, endpoint: _Endpoint, reason: BaseException) -> None:
        if job.attempt >= self.max_attempts:
            log.warning("job %s: worker lost %d times; failing it", job.job_id, job.attempt)
            _settle(
                job,
                error=WorkerLostError(
                    f"the GPU worker was lost {job.attempt} times while running this job"
                ),
            )
            return
        log.warning(
            "job %s: run %d on %s lost (%s); back at the head of its user's queue",
            job.job_id, job.attempt, endpoint.url, reason or type(reason).__name__,
        )  # fmt: skip
        job.attempt += 1
        self._return(job)

    async def _stream(
        self, job: PendingJob, endpoint: _Endpoint, record: Dispatch
    ) -> GenerationResult:
        dispatch = record.dispatch
        assert self._session is not None  # noqa: S101 - started
        # PNG, portrait files and JSON: off the loop
        body = await asyncio.to_thread(_body, job, dispatch, self.portraits)
        headers = {
            **self.headers,
            "Content-Type": "application/json",
            MODEL_HEADER: self._catalog.key_for(job.request.version),
        }
        try:
            response = await self._session.post(
                f"{endpoint.url}/v1/run", data=body, headers=headers
            )
        except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError) as error:
            raise _Refused(f"no connection: {error}") from None
        async with response:
            if response.status in (429, 503):
                raise _Refused(f"HTTP {response.status}")
            if response.status in (401, 403):
                log.error("%s refused MJ_GPU_TOKEN (%d)", endpoint.url, response.status)
                raise EngineError("the GPU service refused this bot's token (MJ_GPU_TOKEN)")
            if response.status == 400:
                raise InvalidRequestError(await _message(response))
            if response.status != 200:
                raise _Lost(f"HTTP {response.status}: {await _message(response)}")
            async for line in ndjson_lines(response.content.iter_any()):
                # A result is megabytes of JSON: parse it off the loop.
                large = len(line) > LARGE_LINE
                event = await asyncio.to_thread(parse_event, line) if large else parse_event(line)
                if event["event"] == "accepted" and isinstance(event.get("worker"), str):
                    record.worker = event["worker"]
                outcome = await self._handle(job, dispatch, event)
                if outcome is not None:
                    return outcome
        raise _Lost("the stream ended without an answer")

    def _result(self, data: Any) -> GenerationResult:
        """A result, with the portrait folders it brings written first (a training's)."""
        result, portraits = decode_result(data)
        write_portraits(self.portraits, portraits)
        return result

    async def _handle(
        self, job: PendingJob, dispatch: str, event: dict[str, Any]
    ) -> GenerationResult | None:
        kind = event["event"]
        if kind in ("progress", "preview"):
            if job.on_progress is not None:
                job.on_progress(decode_progress(event))
            return None
        if kind in ("result", "error") and event.get("dispatch") != dispatch:
            log.warning(
                "job %s: ignored a %s for stale dispatch %s",
                job.job_id,
                kind,
                event.get("dispatch"),
            )
            return None
        if kind == "result":
            return await asyncio.to_thread(self._result, event.get("result"))
        if kind == "error":
            message = str(event.get("message", ""))
            error = error_for(event.get("code"), message)
            if isinstance(error, WorkerLostError):
                raise _Lost(message)
            raise error
        return None  # accepted, waiting, or an event a newer worker sends


def _body(job: PendingJob, dispatch: str, portraits: Path | None) -> bytes:
    body = encode_request(job.request, job.job_id, dispatch, portraits=portraits)
    return json.dumps(body).encode()


async def _message(response: aiohttp.ClientResponse) -> str:
    try:
        data = await response.json(content_type=None)
        return str(data.get("message") or data)
    except (ValueError, aiohttp.ClientError):
        return (await response.text())[:200]


def _settle(
    job: PendingJob, *, result: GenerationResult | None = None, error: BaseException | None = None
) -> None:
    if job.future.done():
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result)  # type: ignore[arg-type]
