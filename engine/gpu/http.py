"""The GPU service (protocol v1) as an aiohttp application: one GPU box without Ray, and the
service the tests run the bot against.

``POST /v1/run`` → 401 without the token, 429 when full (``Retry-After``), 400 naming what is
wrong with the body, else 200 and the run's NDJSON stream. ``GET /v1/capacity`` (token too).
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from engine.gpu.service import GpuService
from engine.remote.wire import WireError

__all__ = ["MAX_BODY_BYTES", "RETRY_AFTER_S", "gpu_app"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024 * 1024
"""A run's body carries its images inline (a 4096² PNG source is ~50 MB)."""
RETRY_AFTER_S = 1
SERVICE_KEY = web.AppKey("service", GpuService)


def gpu_app(service: GpuService) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SERVICE_KEY] = service
    app.router.add_get("/v1/capacity", _capacity)
    app.router.add_post("/v1/run", _run)
    app.router.add_get("/healthz", _health)

    async def stop_engine(app: web.Application) -> None:
        await app[SERVICE_KEY].close()

    app.on_cleanup.append(stop_engine)
    return app


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _refusal(request: web.Request) -> web.Response | None:
    if not request.app[SERVICE_KEY].authorized(request.headers.get("Authorization")):
        return web.json_response(
            {"error": "unauthorized", "message": "missing or wrong bearer token (MJ_GPU_TOKEN)"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return None


async def _capacity(request: web.Request) -> web.Response:
    return _refusal(request) or web.json_response(request.app[SERVICE_KEY].capacity())


async def _run(request: web.Request) -> web.StreamResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    service = request.app[SERVICE_KEY]
    if not service.admit():
        return web.json_response(
            {"error": "busy", "message": f"all {service.slots} slots are busy"},
            status=429,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    try:
        run = service.decode(await request.json())
        await service.prepare(run)
    except (WireError, json.JSONDecodeError, UnicodeDecodeError) as error:
        service.release()
        return web.json_response({"error": "bad_request", "message": str(error)}, status=400)
    except BaseException:
        service.release()
        raise
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    events = service.stream(run)
    try:
        async for line in events:
            await response.write(line)
    except (ConnectionError, RuntimeError) as error:  # the client went away mid-stream
        log.info("run %s: stream closed by the client (%s)", run.dispatch, type(error).__name__)
    finally:
        await events.aclose()  # cancels the job unless it finished
    return response
