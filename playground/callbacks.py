"""Interaction routes (no bot token): the callback, @original and follow-up webhook messages."""

from __future__ import annotations

from aiohttp import web

from playground import payloads
from playground.errors import ApiError, form_error, unknown_interaction, unknown_message
from playground.models import (
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    INTERACTION_AUTOCOMPLETE,
    INTERACTION_COMMAND,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    INTERACTION_PING,
    JSON,
    Callback,
    InteractionRecord,
    Message,
    UploadedFile,
)
from playground.rest import API, check_not_emptied
from playground.validation import check_message, check_modal, check_upload
from playground.wire import json_response, no_content, read_object, world_of
from playground.world import World, describe

PONG, MESSAGE, DEFER_MESSAGE, DEFER_UPDATE, UPDATE, CHOICES, MODAL = 1, 4, 5, 6, 7, 8, 9
ALLOWED = {
    INTERACTION_PING: {PONG},
    INTERACTION_COMMAND: {MESSAGE, DEFER_MESSAGE, MODAL},
    INTERACTION_COMPONENT: {MESSAGE, DEFER_MESSAGE, DEFER_UPDATE, UPDATE, MODAL},
    INTERACTION_AUTOCOMPLETE: {CHOICES},
    INTERACTION_MODAL_SUBMIT: {MESSAGE, DEFER_MESSAGE, DEFER_UPDATE, UPDATE},
}


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(f"{API}/interactions/{{interaction_id}}/{{token}}/callback", post_callback)
    webhook = f"{API}/webhooks/{{app_id}}/{{token}}"
    r.add_post(webhook, post_followup)
    r.add_get(f"{webhook}/messages/{{message_id}}", get_webhook_message)
    r.add_patch(f"{webhook}/messages/{{message_id}}", patch_webhook_message)
    r.add_delete(f"{webhook}/messages/{{message_id}}", delete_webhook_message)


# -- the callback -----------------------------------------------------------------------------


async def post_callback(request: web.Request) -> web.Response:
    world = world_of(request)
    rec = world.interactions.get(request.match_info["token"])
    if rec is None or str(rec.id) != request.match_info["interaction_id"]:
        raise unknown_interaction("no interaction with this id and token")
    body, files = await read_object(request)
    # 1. one acknowledgement, within the deadline
    if rec.acknowledged:
        raise ApiError(
            400,
            40060,
            "Interaction has already been acknowledged.",
            kind="double_ack",
            detail=f"{describe(rec)} was first answered with type {rec.response_type}",
        )
    elapsed = world.clock.now() - rec.created_at
    if elapsed > world.ack_deadline:
        raise unknown_interaction(
            f"{describe(rec)} answered after {elapsed:.2f} s (limit {world.ack_deadline} s)",
            kind="ack_deadline",
        )
    # 2. a response type this interaction accepts, with valid data
    kind = body.get("type")
    if kind not in ALLOWED[rec.type] or (kind == UPDATE and rec.source_message_id is None):
        raise form_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", f"Invalid type {kind}")
    data: JSON = body.get("data") or {}
    if kind in (MESSAGE, UPDATE):
        check_upload(files, world.upload_limit(rec.channel_id))
        check_message(data, files, world.limits(rec.channel_id), creating=kind == MESSAGE)
    elif kind == MODAL:
        check_modal(data, world.limits(rec.channel_id))
    # 3. apply it to the world
    message = _apply(world, rec, kind, data, files)
    rec.callbacks.append(Callback(type=kind, body=body, files=files, at=world.clock.now()))
    world.interaction_changed(rec)
    return json_response(_callback_response(world, rec, kind, message))


def _apply(
    world: World, rec: InteractionRecord, kind: int, data: JSON, files: list[UploadedFile]
) -> Message | None:
    if kind in (MESSAGE, DEFER_MESSAGE):
        flags = FLAG_LOADING if kind == DEFER_MESSAGE else 0
        body = data if kind == MESSAGE else {"flags": int(data.get("flags") or 0) & FLAG_EPHEMERAL}
        msg = world.create_message(
            world.channel(rec.channel_id),
            world.bot_user.id,
            body,
            files,
            type=20 if rec.type == INTERACTION_COMMAND else 19,
            flags=flags,
            webhook_id=world.application_id,
            interaction_metadata=_metadata(world, rec),
            command=command_label(rec),
        )
        rec.original_message_id = msg.id
        return msg
    if kind in (DEFER_UPDATE, UPDATE):
        source = world.messages[rec.source_message_id or 0]
        rec.original_message_id = source.id
        if kind == UPDATE:
            check_not_emptied(source, data, files)
            world.edit_message(source, data, files)
        return source
    if kind == MODAL:
        rec.modal = data
    elif kind == CHOICES:
        rec.choices = list(data.get("choices") or [])
    return None


def command_label(rec: InteractionRecord) -> str | None:
    """`imagine` or `prefer option set`: what the client shows as "alice used /…"."""
    if rec.type != INTERACTION_COMMAND:
        return None
    data = rec.payload.get("data") or {}
    parts = [str(data.get("name"))]
    options = data.get("options") or []
    while options and options[0].get("type") in (1, 2):
        parts.append(str(options[0]["name"]))
        options = options[0].get("options") or []
    return " ".join(parts)


def _metadata(world: World, rec: InteractionRecord) -> JSON:
    data: JSON = {
        "id": str(rec.id),
        "type": rec.type,
        "user": payloads.user(world.users[rec.user_id]),
        "authorizing_integration_owners": rec.payload.get("authorizing_integration_owners", {}),
    }
    if rec.source_message_id is not None:
        data["interacted_message_id"] = str(rec.source_message_id)
    return data


def _callback_response(
    world: World, rec: InteractionRecord, kind: int, message: Message | None
) -> JSON:
    """discord.py ≥ 2.5 sends `?with_response=1` and parses this body.

    As documented: `response_message_*` for the types that create or update a message, and
    `resource.message` only for types 4 and 7.
    """
    interaction: JSON = {"id": str(rec.id), "type": rec.type}
    resource: JSON = {"type": kind}
    if message is not None and kind != DEFER_UPDATE:
        interaction.update(
            response_message_id=str(message.id),
            response_message_loading=message.loading,
            response_message_ephemeral=message.ephemeral,
        )
    if message is not None and kind in (MESSAGE, UPDATE):
        resource["message"] = payloads.message(world, message)
    return {"interaction": interaction, "resource": resource}


# -- webhook messages -------------------------------------------------------------------------


def _interaction(request: web.Request) -> InteractionRecord:
    """The interaction behind a webhook token, refusing expired tokens like Discord does."""
    world = world_of(request)
    rec = world.interactions.get(request.match_info["token"])
    if rec is None or request.match_info["app_id"] != str(world.application_id):
        raise ApiError(404, 10015, "Unknown Webhook", kind="unknown_webhook")
    age = world.clock.now() - rec.created_at
    if age > world.token_lifetime:
        raise ApiError(
            401,
            50027,
            "Invalid Webhook Token",
            kind="token_expired",
            detail=f"{describe(rec)} token used {age:.0f} s after creation",
        )
    return rec


def _webhook_message(request: web.Request, rec: InteractionRecord) -> Message:
    world = world_of(request)
    raw = request.match_info["message_id"]
    if raw == "@original":
        message_id = rec.original_message_id
    elif raw.isdigit() and (int(raw) in rec.followup_ids or int(raw) == rec.original_message_id):
        message_id = int(raw)
    else:
        message_id = None
    msg = world.messages.get(message_id or 0)
    if msg is None or msg.deleted:
        raise unknown_message()
    return msg


async def post_followup(request: web.Request) -> web.Response:
    world = world_of(request)
    rec = _interaction(request)
    body, files = await read_object(request)
    if not rec.acknowledged:
        raise ApiError(
            404,
            10015,
            "Unknown Webhook",
            kind="followup_before_ack",
            detail=f"follow-up to {describe(rec)} before its initial response",
        )
    check_upload(files, world.upload_limit(rec.channel_id))
    check_message(body, files, world.limits(rec.channel_id), creating=True)
    original = rec.original_message
    if original is not None and original.loading and not original.deleted:
        # Discord: the first follow-up after a "thinking" defer replaces the loading message,
        # keeping the defer's ephemerality.
        msg = world.edit_message(original, body, files, clear_flags=FLAG_LOADING)
    else:
        ephemeral = int(body.get("flags") or 0) & FLAG_EPHEMERAL
        msg = world.create_message(
            world.channel(rec.channel_id),
            world.bot_user.id,
            body,
            files,
            flags=ephemeral,
            webhook_id=world.application_id,
            interaction_metadata=_metadata(world, rec),
            command=command_label(rec),
        )
    rec.followup_ids.append(msg.id)
    world.interaction_changed(rec)
    if request.query.get("wait") in ("1", "true", "True"):
        return json_response(payloads.message(world, msg))
    return no_content()


async def get_webhook_message(request: web.Request) -> web.Response:
    rec = _interaction(request)
    return json_response(payloads.message(world_of(request), _webhook_message(request, rec)))


async def patch_webhook_message(request: web.Request) -> web.Response:
    world = world_of(request)
    rec = _interaction(request)
    msg = _webhook_message(request, rec)
    body, files = await read_object(request)
    check_upload(files, world.upload_limit(msg.channel_id))
    check_message(body, files, world.limits(msg.channel_id), creating=False)
    check_not_emptied(msg, body, files)
    edited = world.edit_message(msg, body, files, clear_flags=FLAG_LOADING)
    return json_response(payloads.message(world, edited))


async def delete_webhook_message(request: web.Request) -> web.Response:
    world = world_of(request)
    rec = _interaction(request)
    world.delete_message(_webhook_message(request, rec))
    return no_content()
