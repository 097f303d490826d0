"""Bot-token REST routes: identity, commands, channels, messages, reactions, DMs, guilds."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote

from aiohttp import web

from playground import payloads
from playground.errors import ApiError, unknown_message
from playground.models import FLAG_EPHEMERAL, JSON, Message, UploadedFile
from playground.validation import check_commands, check_message, check_upload
from playground.wire import (
    json_response,
    no_content,
    read_body,
    read_object,
    snowflake_arg,
    world_of,
)
from playground.world import World

API = "/api/v10"


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{API}/users/@me", get_me)
    r.add_post(f"{API}/users/@me/channels", create_dm)
    r.add_get(f"{API}/users/{{user_id}}", get_user)
    r.add_get(f"{API}/oauth2/applications/@me", get_app_info)
    r.add_get(f"{API}/gateway", get_gateway)
    r.add_get(f"{API}/gateway/bot", get_gateway_bot)
    for scope in ("", "/guilds/{guild_id}"):
        r.add_get(f"{API}/applications/{{app_id}}{scope}/commands", get_commands)
        r.add_put(f"{API}/applications/{{app_id}}{scope}/commands", put_commands)
    r.add_get(f"{API}/guilds/{{guild_id}}", get_guild)
    r.add_get(f"{API}/guilds/{{guild_id}}/channels", get_guild_channels)
    r.add_get(f"{API}/guilds/{{guild_id}}/members/{{user_id}}", get_member)
    channel = f"{API}/channels/{{channel_id}}"
    r.add_get(channel, get_channel)
    r.add_post(f"{channel}/typing", post_typing)
    r.add_get(f"{channel}/messages", list_messages)
    r.add_post(f"{channel}/messages", post_message)
    message = f"{channel}/messages/{{message_id}}"
    r.add_get(message, get_message)
    r.add_patch(message, patch_message)
    r.add_delete(message, delete_message)
    r.add_get(f"{message}/reactions/{{emoji}}", get_reactions)
    r.add_put(f"{message}/reactions/{{emoji}}/@me", put_reaction)
    r.add_delete(f"{message}/reactions/{{emoji}}/{{user_id}}", delete_reaction)


# -- identity ---------------------------------------------------------------------------------


async def get_me(request: web.Request) -> web.Response:
    return json_response(payloads.self_user(world_of(request).bot_user))


async def get_user(request: web.Request) -> web.Response:
    world = world_of(request)
    user = world.users.get(snowflake_arg(request, "user_id"))
    if user is None:
        raise ApiError(404, 10013, "Unknown User", kind="unknown_user")
    return json_response(payloads.user(user))


async def create_dm(request: web.Request) -> web.Response:
    world = world_of(request)
    body, _ = await read_object(request)
    recipient = int(body.get("recipient_id") or 0)
    if recipient not in world.users:
        raise ApiError(404, 10013, "Unknown User", kind="unknown_user")
    if world.users[recipient].bot:
        raise ApiError(400, 50007, "Cannot send messages to this user", kind="dm_refused")
    return json_response(payloads.channel(world, world.dm_channel(recipient)))


async def get_app_info(request: web.Request) -> web.Response:
    return json_response(payloads.app_info(world_of(request)))


async def get_gateway(request: web.Request) -> web.Response:
    return json_response({"url": world_of(request).gateway_url})


async def get_gateway_bot(request: web.Request) -> web.Response:
    limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
    return json_response(
        {"url": world_of(request).gateway_url, "shards": 1, "session_start_limit": limit}
    )


# -- application commands ---------------------------------------------------------------------


def _command_scope(request: web.Request) -> int | None:
    world = world_of(request)
    if snowflake_arg(request, "app_id") != world.application_id:
        raise ApiError(403, 50001, "Missing Access", kind="wrong_application")
    if "guild_id" not in request.match_info:
        return None
    guild_id = snowflake_arg(request, "guild_id")
    if guild_id not in world.guilds:
        raise ApiError(404, 10004, "Unknown Guild", kind="unknown_guild")
    return guild_id


async def get_commands(request: web.Request) -> web.Response:
    scope = _command_scope(request)
    return json_response(world_of(request).commands.get(scope, []))


async def put_commands(request: web.Request) -> web.Response:
    """Bulk overwrite; a command keeps its id across syncs while its (type, name) is unchanged."""
    world = world_of(request)
    scope = _command_scope(request)
    body, _ = await read_body(request)
    check_commands(body)
    previous = {(c["type"], c["name"]): c["id"] for c in world.commands.get(scope, [])}
    stored: list[JSON] = []
    for command in body:
        kind = int(command.get("type", 1))
        entry: JSON = {
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            **command,
            "id": previous.get((kind, command["name"])) or str(world.snowflake()),
            "application_id": str(world.application_id),
            "type": kind,
            "version": str(world.snowflake()),
        }
        if scope is not None:
            entry["guild_id"] = str(scope)
        stored.append(entry)
    world.set_commands(scope, stored)
    return json_response(stored)


# -- guilds and channels ----------------------------------------------------------------------


def _guild(request: web.Request) -> int:
    guild_id = snowflake_arg(request, "guild_id")
    if guild_id not in world_of(request).guilds:
        raise ApiError(404, 10004, "Unknown Guild", kind="unknown_guild")
    return guild_id


async def get_guild(request: web.Request) -> web.Response:
    world = world_of(request)
    data = payloads.guild(world, world.guilds[_guild(request)])
    for key in ("members", "channels", "threads", "voice_states", "presences"):
        data.pop(key)
    return json_response(data)


async def get_guild_channels(request: web.Request) -> web.Response:
    world = world_of(request)
    guild = world.guilds[_guild(request)]
    return json_response([payloads.channel(world, world.channels[c]) for c in guild.channel_ids])


async def get_member(request: web.Request) -> web.Response:
    world = world_of(request)
    guild = world.guilds[_guild(request)]
    user_id = snowflake_arg(request, "user_id")
    if user_id not in guild.member_ids:
        raise ApiError(404, 10007, "Unknown Member", kind="unknown_member")
    return json_response(payloads.member(guild, world.users[user_id]))


async def get_channel(request: web.Request) -> web.Response:
    world = world_of(request)
    return json_response(
        payloads.channel(world, world.channel(snowflake_arg(request, "channel_id")))
    )


async def post_typing(request: web.Request) -> web.Response:
    world_of(request).channel(snowflake_arg(request, "channel_id")).typing_count += 1
    return no_content()


# -- messages ---------------------------------------------------------------------------------


def _message(request: web.Request) -> Message:
    """A visible message of the channel in the URL; ephemeral ones are invisible to REST."""
    world = world_of(request)
    ch = world.channel(snowflake_arg(request, "channel_id"))
    msg = world.messages.get(snowflake_arg(request, "message_id"))
    if msg is None or msg.deleted or msg.ephemeral or msg.channel_id != ch.id:
        raise unknown_message()
    return msg


async def list_messages(request: web.Request) -> web.Response:
    world = world_of(request)
    ch = world.channel(snowflake_arg(request, "channel_id"))
    limit = max(1, min(100, int(request.query.get("limit", "50"))))
    before = int(request.query.get("before", "0")) or None
    after = int(request.query.get("after", "0"))
    found = [
        m
        for m in world.channel_messages(ch.id, before=before)
        if not m.deleted and not m.ephemeral and m.id > after
    ]
    newest_first = sorted(found, key=lambda m: m.id, reverse=True)[:limit]
    return json_response([payloads.message(world, m) for m in newest_first])


async def get_message(request: web.Request) -> web.Response:
    return json_response(payloads.message(world_of(request), _message(request)))


async def post_message(request: web.Request) -> web.Response:
    world = world_of(request)
    ch = world.channel(snowflake_arg(request, "channel_id"))
    body, files = await read_object(request)
    # 1. the same checks Discord makes, in its order: size first, then the form
    check_upload(files, world.upload_limit(ch.id))
    check_message(body, files, world.limits(ch.id), creating=True)
    # 2. enforce_nonce: a retried send returns the first message instead of a duplicate
    nonce = body.get("nonce")
    key = (ch.id, world.bot_user.id, str(nonce))
    if nonce is not None and body.get("enforce_nonce") and key in world.nonces:
        return json_response(payloads.message(world, world.messages[world.nonces[key]]))
    # 3. store (ephemeral is an interaction-only flag) and echo
    body = {**body, "flags": int(body.get("flags") or 0) & ~FLAG_EPHEMERAL}
    reference = _reference(world, ch.id, body.get("message_reference"))
    msg = world.create_message(
        ch,
        world.bot_user.id,
        body,
        files,
        type=19 if reference else 0,
        nonce=str(nonce) if nonce is not None else None,
        message_reference=reference,
    )
    if nonce is not None:
        world.nonces[key] = msg.id
    return json_response(payloads.message(world, msg))


def _reference(world: World, channel_id: int, reference: JSON | None) -> JSON | None:
    if not reference:
        return None
    target = world.messages.get(int(reference.get("message_id") or 0))
    if target is None or target.deleted:
        if reference.get("fail_if_not_exists", True):
            raise ApiError(
                400, 50035, "Invalid Form Body", kind="unknown_reference", detail=str(reference)
            )
        return None
    data: JSON = {"type": 0, "message_id": str(target.id), "channel_id": str(target.channel_id)}
    if target.guild_id is not None:
        data["guild_id"] = str(target.guild_id)
    return data


async def patch_message(request: web.Request) -> web.Response:
    world = world_of(request)
    msg = _message(request)
    body, files = await read_object(request)
    touches_content = bool(files) or any(
        key in body for key in ("content", "embeds", "components", "attachments")
    )
    if touches_content and msg.author_id != world.bot_user.id:
        raise ApiError(
            403, 50005, "Cannot edit a message authored by another user", kind="forbidden_edit"
        )
    check_upload(files, world.upload_limit(msg.channel_id))
    check_message(body, files, world.limits(msg.channel_id), creating=False)
    check_not_emptied(msg, body, files)
    return json_response(payloads.message(world, world.edit_message(msg, body, files)))


def check_not_emptied(msg: Message, body: JSON, files: Sequence[UploadedFile]) -> None:
    """An edit may not leave a message with nothing in it (50006), like a send."""
    content = body.get("content", msg.content)
    embeds = body.get("embeds", msg.embeds)
    components = body.get("components", msg.components)
    attachments = body.get("attachments", msg.attachments)
    if not (content or embeds or components or attachments or files):
        raise ApiError(400, 50006, "Cannot send an empty message", kind="empty_message")


async def delete_message(request: web.Request) -> web.Response:
    world_of(request).delete_message(_message(request))
    return no_content()


# -- reactions --------------------------------------------------------------------------------


def _emoji(request: web.Request) -> str:
    emoji = unquote(request.match_info["emoji"])
    _name, sep, emoji_id = emoji.partition(":")
    if sep and emoji_id.isdigit():
        raise ApiError(400, 10014, "Unknown Emoji", kind="unknown_emoji", detail=emoji)
    return emoji


async def get_reactions(request: web.Request) -> web.Response:
    world = world_of(request)
    users = _message(request).reactions.get(_emoji(request), [])
    return json_response([payloads.user(world.users[u]) for u in users])


async def put_reaction(request: web.Request) -> web.Response:
    world = world_of(request)
    world.react(_message(request), _emoji(request), world.bot_user.id, add=True)
    return no_content()


async def delete_reaction(request: web.Request) -> web.Response:
    world = world_of(request)
    raw_user = request.match_info["user_id"]
    user_id = world.bot_user.id if raw_user == "@me" else snowflake_arg(request, "user_id")
    world.react(_message(request), _emoji(request), user_id, add=False)
    return no_content()
