"""The web client's routes: the page, its state, message history, and what its users do.

Everything a person does in the page goes through the same code as the test driver
(`actions`), so the bot sees exactly what the Discord client would send. Mistakes the
Discord client would not let through (a disabled button, a missing required option) come
back as 400 `{"error": "..."}` for the page to show.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import BodyPartReader, hdrs, web

from playground import actions, payloads
from playground.actions import FileSpec
from playground.errors import ApiError, EmulatorError
from playground.live import LiveFeed, interaction_view, message_view
from playground.models import (
    CHANNEL_DM,
    DM_UPLOAD_LIMIT,
    JSON,
    Channel,
    InteractionRecord,
    UploadedFile,
    User,
)
from playground.wire import GATEWAY, WORLD
from playground.world import World

STATIC = Path(__file__).with_name("static")
PAGE_SIZE = 50
MAX_PAGE = 100
AUTOCOMPLETE_WAIT = 3.0
LIVE: web.AppKey[LiveFeed] = web.AppKey("live")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_routes(app: web.Application) -> None:
    app[LIVE] = LiveFeed(app[WORLD])
    r = app.router
    r.add_get("/", root)
    r.add_static("/static/", STATIC, show_index=False, append_version=False)
    r.add_get("/client/state", _errors(get_state))
    r.add_get("/client/live", live)
    r.add_get("/client/channels/{channel_id}/messages", _errors(get_messages))
    r.add_post("/client/channels/{channel_id}/messages", _errors(post_message))
    r.add_post("/client/commands", _errors(post_command))
    r.add_post("/client/autocomplete", _errors(post_autocomplete))
    r.add_post("/client/components", _errors(post_component))
    r.add_post("/client/modals", _errors(post_modal))
    r.add_post("/client/reactions", _errors(post_reaction))
    r.add_post("/client/dms", _errors(post_dm))
    app.on_shutdown.append(_close_pages)


_NO_CACHE = {hdrs.CACHE_CONTROL: "no-cache"}


async def root(request: web.Request) -> web.StreamResponse:
    # discord.py may be pointed at `/` for the gateway: the same address as the page.
    if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
        return await request.app[GATEWAY].handle(request)
    return web.FileResponse(STATIC / "index.html", headers=_NO_CACHE)


async def live(request: web.Request) -> web.StreamResponse:
    return await request.app[LIVE].handle(request)


async def _close_pages(app: web.Application) -> None:
    await app[LIVE].close()


def _errors(handler: Handler) -> Handler:
    """A refusal the Discord client would show becomes 400 `{"error"}`; the page shows it."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except KeyError as error:
            return web.json_response({"error": f"missing field {error}"}, status=400)
        except (EmulatorError, ApiError, ValueError) as error:
            text = error.message if isinstance(error, ApiError) else str(error)
            return web.json_response({"error": text}, status=400)

    return wrapped


# -- reading ----------------------------------------------------------------------------------


async def get_state(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    guilds = []
    for guild in world.guilds.values():
        channels = [_channel(world.channels[c]) for c in guild.channel_ids]
        guilds.append(
            {
                "id": str(guild.id),
                "name": guild.name,
                "channels": channels,
                "commands": world.commands.get(guild.id, []),
                "upload_limit": guild.upload_limit,
                "member_ids": [str(m) for m in guild.member_ids],
            }
        )
    dms = [_channel(c) for c in world.channels.values() if c.type == CHANNEL_DM]
    people = [payloads.user(u) for u in world.users.values() if not u.bot and u != world.owner]
    return web.json_response(
        {
            "bot": payloads.user(world.bot_user),
            "users": people,
            "guilds": guilds,
            "dms": dms,
            "global_commands": world.commands.get(None, []),
            "dm_upload_limit": DM_UPLOAD_LIMIT,
            "connected": request.app[GATEWAY].connected,
            "notices": request.app[LIVE].notices,
            "ack_deadline": world.ack_deadline,
        }
    )


def _channel(ch: Channel) -> JSON:
    return {
        "id": str(ch.id),
        "name": ch.name,
        "type": ch.type,
        "guild_id": str(ch.guild_id) if ch.guild_id else None,
        "recipient_id": str(ch.recipient_id) if ch.recipient_id else None,
    }


async def get_messages(request: web.Request) -> web.Response:
    """A page of a channel's history, oldest first: the newest `limit` before `before`."""
    world = request.app[WORLD]
    ch = world.channel(_int(request.match_info["channel_id"], "channel_id"))
    limit = min(MAX_PAGE, max(1, _int(request.query.get("limit", str(PAGE_SIZE)), "limit")))
    before = _int(request.query["before"], "before") if "before" in request.query else None
    found: list[JSON] = []
    cursor = before
    # Deleted messages are skipped, so a page may need a few index slices.
    while len(found) < limit:
        chunk = world.channel_messages(ch.id, before=cursor, limit=limit)
        if not chunk:
            break
        found[:0] = [message_view(world, m) for m in chunk if not m.deleted]
        cursor = chunk[0].id
    more = bool(world.channel_messages(ch.id, before=cursor, limit=1)) if cursor else False
    return web.json_response({"messages": found[-limit:], "has_more": more or len(found) > limit})


# -- acting -----------------------------------------------------------------------------------


async def post_message(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    ch = world.channel(_int(request.match_info["channel_id"], "channel_id"))
    payload, files = await _read(request)
    user = _user(world, payload)
    content = str(payload.get("content") or "")
    uploads = [
        UploadedFile(i, name, ctype, data) for i, (name, data, ctype) in enumerate(files.values())
    ]
    _check_upload(world, ch, list(files.values()))
    if not content.strip() and not uploads:
        raise EmulatorError("Type a message (or attach a file) first")
    if len(content) > world.limits(ch.id).max_content:
        raise EmulatorError(f"Messages are at most {world.limits(ch.id).max_content} characters")
    msg = world.create_message(ch, user.id, {"content": content}, uploads)
    return web.json_response(message_view(world, msg))


async def post_command(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    payload, files = await _read(request)
    user, ch = _user(world, payload), _channel_of(world, payload)
    _check_upload(world, ch, list(files.values()))
    rec = actions.slash(
        world,
        str(payload["name"]),
        user,
        ch,
        dict(payload.get("options") or {}),
        files,
        payload.get("subcommand") or None,
    )
    return web.json_response(interaction_view(rec))


async def post_autocomplete(request: web.Request) -> web.Response:
    """Send the autocomplete interaction and wait (at most the 3 s deadline) for the choices."""
    world = request.app[WORLD]
    payload = await _json(request)
    rec = actions.autocomplete(
        world,
        str(payload["name"]),
        _user(world, payload),
        _channel_of(world, payload),
        dict(payload.get("options") or {}),
        str(payload["focused"]),
        payload.get("subcommand") or None,
    )
    choices = await _choices(world, rec)
    return web.json_response({"choices": choices, "answered": choices is not None})


async def _choices(world: World, rec: InteractionRecord) -> list[JSON] | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + AUTOCOMPLETE_WAIT
    while rec.choices is None and loop.time() < deadline:
        event = world.change_event
        try:
            await asyncio.wait_for(event.wait(), deadline - loop.time())
        except TimeoutError:
            break
    return rec.choices


async def post_component(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    payload = await _json(request)
    user = _user(world, payload)
    message_id = _int(str(payload["message_id"]), "message_id")
    custom_id = str(payload["custom_id"])
    if "values" in payload:
        rec = actions.select(world, message_id, custom_id, list(payload["values"]), user)
    else:
        rec = actions.click(world, message_id, custom_id, user)
    return web.json_response(interaction_view(rec))


async def post_modal(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    payload = await _json(request)
    user = _user(world, payload)
    opened_by = world.interaction_by_id(_int(str(payload["interaction_id"]), "interaction_id"))
    if opened_by is None:
        raise EmulatorError("This form has expired; open it again")
    rec = actions.submit_modal(world, opened_by, dict(payload.get("values") or {}), user)
    return web.json_response(interaction_view(rec))


async def post_reaction(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    payload = await _json(request)
    user = _user(world, payload)
    msg = world.messages.get(_int(str(payload["message_id"]), "message_id"))
    if msg is None or msg.deleted:
        raise EmulatorError("That message was deleted")
    emoji = str(payload["emoji"]).strip()
    if not emoji or len(emoji) > 32 or any(c.isspace() for c in emoji):
        raise EmulatorError("Pick one emoji")
    world.react(msg, emoji, user.id, add=bool(payload.get("add", True)))
    return web.json_response(message_view(world, msg))


async def post_dm(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    user = _user(world, await _json(request))
    return web.json_response(_channel(world.dm_channel(user.id)))


# -- reading requests -------------------------------------------------------------------------


async def _json(request: web.Request) -> JSON:
    try:
        data = await request.json()
    except json.JSONDecodeError:
        raise EmulatorError("the request body is not JSON") from None
    if not isinstance(data, dict):
        raise EmulatorError("the request body is not a JSON object")
    return data


async def _read(request: web.Request) -> tuple[JSON, dict[str, FileSpec]]:
    """JSON, or multipart: a `payload` JSON part and file parts named after their option."""
    if not request.content_type.startswith("multipart/"):
        return await _json(request), {}
    payload: JSON = {}
    files: dict[str, FileSpec] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise EmulatorError("nested multipart is not supported")
        data = bytes(await part.read(decode=False))
        if part.name == "payload":
            payload = json.loads(data)
        elif part.name:
            ctype = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
            files[part.name] = (part.filename or part.name, data, ctype)
    return payload, files


def _check_upload(world: World, ch: Channel, files: list[FileSpec]) -> None:
    """The Discord client refuses files over the upload limit before sending anything."""
    limit = world.upload_limit(ch.id)
    total = sum(len(data) for _, data, _ in files)
    if total > limit:
        raise EmulatorError(
            f"Your files are too powerful: {total / 2**20:.2f} MB, the limit here is "
            f"{limit / 2**20:.2f} MB"
        )


def _user(world: World, payload: JSON) -> User:
    user = world.users.get(_int(str(payload.get("user_id", "")), "user_id"))
    if user is None or user.bot:
        raise EmulatorError(f"no person with id {payload.get('user_id')!r}")
    return user


def _channel_of(world: World, payload: JSON) -> Channel:
    return world.channel(_int(str(payload.get("channel_id", "")), "channel_id"))


def _int(raw: str, name: str) -> int:
    if not raw.isdigit():
        raise EmulatorError(f"{name} must be a number, not {raw!r}")
    return int(raw)
