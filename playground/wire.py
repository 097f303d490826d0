"""HTTP plumbing: exact JSON responses, JSON/multipart request bodies, typed app keys."""

from __future__ import annotations

import json
import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, hdrs, web

from playground.errors import ApiError, form_error
from playground.models import JSON, UploadedFile

if TYPE_CHECKING:
    from playground.gateway import Gateway
    from playground.world import World

WORLD: web.AppKey[World] = web.AppKey("world")
GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway")
_FILE_FIELD = re.compile(r"^files\[(\d+)\]$")


@dataclass(slots=True)
class Captured:
    """What the current request carried, for the request log (set per request by middleware)."""

    json: Any = None
    files: tuple[UploadedFile, ...] = ()


CAPTURE: ContextVar[Captured | None] = ContextVar("capture", default=None)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """discord.py parses a body only when Content-Type is exactly `application/json`."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={hdrs.CONTENT_TYPE: "application/json", **(headers or {})},
    )


def no_content() -> web.Response:
    return web.Response(status=204)


def world_of(request: web.Request) -> World:
    return request.app[WORLD]


def snowflake_arg(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise form_error(name, "NUMBER_TYPE_COERCE", f"Value {raw!r} is not snowflake.")
    return int(raw)


async def read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """The JSON body, or `payload_json` plus the `files[n]` parts of a multipart body.

    Both are kept in `CAPTURE` so the request log can show what the bot sent.
    """
    files: list[UploadedFile] = []
    if request.content_type.startswith("multipart/"):
        body = await _read_multipart(request, files)
    elif request.can_read_body:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise form_error("_root", "JSON_INVALID", "The request body is not JSON.") from None
    else:
        body = None
    captured = CAPTURE.get()
    if captured is not None:
        captured.json, captured.files = body, tuple(files)
    return body, files


async def read_object(request: web.Request) -> tuple[JSON, list[UploadedFile]]:
    body, files = await read_body(request)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise form_error("_root", "MODEL_TYPE_CONVERT", "Only dictionaries may be used.")
    return body, files


async def _read_multipart(request: web.Request, files: list[UploadedFile]) -> Any:
    body: Any = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise form_error("_root", "MULTIPART_NESTED", "Nested multipart is not supported.")
        data = await part.read(decode=False)
        name = part.name or ""
        if name == "payload_json":
            try:
                body = json.loads(data)
            except ValueError:
                raise form_error("payload_json", "JSON_INVALID", "Not JSON.") from None
        elif match := _FILE_FIELD.match(name):
            files.append(
                UploadedFile(
                    index=int(match.group(1)),
                    filename=part.filename or name,
                    content_type=part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream"),
                    data=bytes(data),
                )
            )
        else:
            raise form_error(name, "UNKNOWN_FIELD", f"Unexpected multipart field {name!r}.")
    return body


def api_error_response(error: ApiError) -> web.Response:
    return json_response(error.body(), status=error.status)
