"""The aiohttp application: routes, the strict middleware, the attachment CDN and hosted files."""

from __future__ import annotations

import asyncio
import logging
import traceback
from dataclasses import dataclass, field

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from playground import callbacks, client, rest
from playground.errors import ApiError
from playground.gateway import Gateway
from playground.models import RequestRecord
from playground.rest import API
from playground.wire import (
    CAPTURE,
    GATEWAY,
    WORLD,
    Captured,
    api_error_response,
    json_response,
)
from playground.world import World

log = logging.getLogger(__name__)

_NO_BOT_TOKEN = (f"{API}/interactions/", f"{API}/webhooks/")
_DISCORD_PATHS = (f"{API}/", "/attachments/", "/files/", "/gateway")
"""What Discord serves (strict: logged, Discord-shaped errors); the rest is the web client."""


@dataclass(slots=True)
class Injection:
    """A canned response for the next `times` requests whose path contains `path_contains`."""

    method: str
    path_contains: str
    status: int
    body: object
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1

    def matches(self, request: web.Request) -> bool:
        method_ok = self.method in ("*", request.method)
        return method_ok and self.path_contains in request.path and self.times > 0


INJECTIONS: web.AppKey[list[Injection]] = web.AppKey("injections")


def build_app(world: World, gateway: Gateway) -> web.Application:
    """Discord's REST, gateway and CDN, plus the web client (the page at `/`, `/client/…`)."""
    app = web.Application(middlewares=[strict], client_max_size=1 << 30)
    app[WORLD] = world
    app[GATEWAY] = gateway
    app[INJECTIONS] = []
    rest.add_routes(app)
    callbacks.add_routes(app)
    app.router.add_get("/gateway", gateway.handle)
    app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", get_attachment)
    app.router.add_route("*", "/files/{path:.*}", get_hosted)
    client.add_routes(app)
    return app


@web.middleware
async def strict(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request is logged; every error is Discord-shaped JSON and a recorded violation."""
    if not _is_discord(request):
        return await handler(request)
    world = request.app[WORLD]
    world.check_deadlines()
    captured = Captured()
    CAPTURE.set(captured)  # each request runs in its own task: no reset needed
    authorized = request.headers.get(hdrs.AUTHORIZATION) == f"Bot {world.token}"
    response: web.StreamResponse
    try:
        injected = _take_injection(request)
        if injected is not None:
            response = injected
        elif _needs_token(request.path) and not authorized:
            raise ApiError(401, 0, "401: Unauthorized", kind="unauthorized")
        else:
            response = await handler(request)
    except ApiError as err:
        _record_violation(request, err.kind, err.detail or err.message, err.status, err.code)
        response = api_error_response(err)
    except web.HTTPException as exc:
        if exc.status >= 400:
            kind = "unknown_route" if exc.status in (404, 405) else "http_error"
            _record_violation(request, kind, f"{exc.status} {exc.reason}", exc.status, 0)
            response = json_response(
                {"code": 0, "message": f"{exc.status}: {exc.reason}"}, exc.status
            )
        else:
            response = exc
    except ConnectionResetError:
        # The client went away mid-request (a bot process killed while uploading): nothing
        # to answer, and no fault of the emulator's.
        log.info("client left during %s %s", request.method, request.path)
        response = json_response({"code": 0, "message": "client closed request"}, 400)
    except Exception as exc:  # an emulator bug must answer, not hang the bot
        log.exception("discord emulator failed on %s %s", request.method, request.path)
        detail = "".join(traceback.format_exception(exc))
        _record_violation(request, "emulator_error", detail, 500, 0)
        response = json_response({"code": 0, "message": "500: Internal Server Error"}, 500)
    world.record_request(
        RequestRecord(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            status=response.status,
            authorized=authorized,
            json=captured.json,
            files=captured.files,
            at=world.clock.now(),
        )
    )
    return response


def _is_discord(request: web.Request) -> bool:
    """The gateway also answers WebSocket upgrades at `/`, the page's address."""
    if request.path == "/":
        return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    return request.path.startswith(_DISCORD_PATHS)


def _needs_token(path: str) -> bool:
    return path.startswith(f"{API}/") and not path.startswith(_NO_BOT_TOKEN)


def _record_violation(
    request: web.Request, kind: str, message: str, status: int, code: int
) -> None:
    world = request.app[WORLD]
    world.violation(
        kind,
        message,
        method=request.method,
        path=request.path,
        status=status,
        code=code,
        channel_id=_channel_of(world, request),
    )


def _channel_of(world: World, request: web.Request) -> int | None:
    """The channel a failed request concerns: in its path, or its interaction's."""
    raw = request.match_info.get("channel_id", "")
    if raw.isdigit():
        return int(raw)
    rec = world.interactions.get(request.match_info.get("token", ""))
    return rec.channel_id if rec is not None else None


def _take_injection(request: web.Request) -> web.Response | None:
    for injection in request.app[INJECTIONS]:
        if injection.matches(request):
            injection.times -= 1
            return json_response(injection.body, injection.status, injection.headers)
    return None


async def get_attachment(request: web.Request) -> web.StreamResponse:
    world = request.app[WORLD]
    raw_id = request.match_info["attachment_id"]
    att = world.attachments.get(int(raw_id)) if raw_id.isdigit() else None
    if att is None or str(att.channel_id) != request.match_info["channel_id"]:
        raise ApiError(404, 0, "404: Not Found", kind="unknown_attachment", detail=request.path)
    headers = {hdrs.CONTENT_TYPE: att.content_type, hdrs.CACHE_CONTROL: "max-age=86400"}
    if att.blob is None and att.path is not None:
        return web.FileResponse(att.path, headers=headers)  # streamed, off the event loop
    return web.Response(body=att.data, headers=headers)


async def get_hosted(request: web.Request) -> web.StreamResponse:
    """A file a test hosts for URL fetchers: optionally slow, redirecting or mislabelled."""
    hosted = request.app[WORLD].hosted.get(request.match_info["path"])
    if hosted is None:
        return web.Response(status=404, text="not hosted")
    hosted.hits += 1
    if hosted.delay:
        await asyncio.sleep(hosted.delay)
    if hosted.redirect_to is not None:
        status = hosted.status if 300 <= hosted.status < 400 else 302
        return web.Response(status=status, headers={hdrs.LOCATION: hosted.redirect_to})
    response = web.StreamResponse(
        status=hosted.status,
        headers={
            hdrs.CONTENT_TYPE: hosted.content_type,
            hdrs.CONTENT_LENGTH: str(len(hosted.data)),
            **hosted.headers,
        },
    )
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    try:
        for start in range(0, len(hosted.data), hosted.chunk_size):
            if hosted.chunk_delay and start:
                await asyncio.sleep(hosted.chunk_delay)
            await response.write(hosted.data[start : start + hosted.chunk_size])
        await response.write_eof()
    except ConnectionError:
        log.debug("client went away while fetching hosted %s", hosted.path)
    return response
