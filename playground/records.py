"""The world's records as JSON for the store, and back (one pair of functions per kind)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from playground.models import (
    JSON,
    Attachment,
    Callback,
    Channel,
    Guild,
    InteractionRecord,
    Limits,
    Message,
    User,
)
from playground.world import World


def record_of(kind: str, subject: object, world: World) -> JSON:
    """The stored form of a changed `subject` (as the world reported it under `kind`)."""
    if isinstance(subject, User):
        return {"id": subject.id, "name": subject.name, "bot": subject.bot}
    if isinstance(subject, Guild):
        return _guild(subject)
    if isinstance(subject, Channel):
        return _channel(subject)
    if isinstance(subject, Attachment):
        return _attachment(subject)
    if isinstance(subject, Message):
        return _message(subject)
    if isinstance(subject, InteractionRecord):
        return _interaction(subject, world)
    if kind == "commands":
        scope = subject if isinstance(subject, int) else None
        return {"scope": scope, "commands": world.commands.get(scope, [])}
    raise TypeError(f"no record for {kind} {subject!r}")


def _guild(g: Guild) -> JSON:
    limits = g.limits
    return {
        "id": g.id,
        "name": g.name,
        "owner_id": g.owner_id,
        "premium_tier": g.premium_tier,
        "member_ids": g.member_ids,
        "channel_ids": g.channel_ids,
        "joined_at": g.joined_at.isoformat(),
        "limits": {
            "max_content": limits.max_content,
            "max_embeds": limits.max_embeds,
            "max_action_rows": limits.max_action_rows,
            "max_row_items": limits.max_row_items,
            "max_custom_id": limits.max_custom_id,
            "upload_bytes": limits.upload_bytes,
        },
    }


def _channel(c: Channel) -> JSON:
    return {
        "id": c.id,
        "name": c.name,
        "type": c.type,
        "guild_id": c.guild_id,
        "position": c.position,
        "recipient_id": c.recipient_id,
    }


def _attachment(a: Attachment) -> JSON:
    return {
        "id": a.id,
        "channel_id": a.channel_id,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "description": a.description,
        "ephemeral": a.ephemeral,
        "width": a.width,
        "height": a.height,
    }


def _message(m: Message) -> JSON:
    return {
        "id": m.id,
        "channel_id": m.channel_id,
        "guild_id": m.guild_id,
        "author_id": m.author_id,
        "content": m.content,
        "embeds": m.embeds,
        "components": m.components,
        "attachment_ids": [a.id for a in m.attachments],
        "flags": m.flags,
        "type": m.type,
        "timestamp": m.timestamp.isoformat(),
        "edited_timestamp": m.edited_timestamp.isoformat() if m.edited_timestamp else None,
        "nonce": m.nonce,
        "webhook_id": m.webhook_id,
        "interaction_metadata": m.interaction_metadata,
        "message_reference": m.message_reference,
        "reactions": m.reactions,
        "command": m.command,
    }


def _interaction(r: InteractionRecord, world: World) -> JSON:
    """Times are stored as wall-clock seconds: the monotonic clock restarts with the process."""
    to_wall = time.time() - world.clock.now()
    return {
        "id": r.id,
        "token": r.token,
        "type": r.type,
        "user_id": r.user_id,
        "channel_id": r.channel_id,
        "guild_id": r.guild_id,
        "payload": r.payload,
        "created": r.created_at + to_wall,
        "callbacks": [{"type": c.type, "body": c.body, "at": c.at + to_wall} for c in r.callbacks],
        "original_message_id": r.original_message_id,
        "followup_ids": r.followup_ids,
        "modal": r.modal,
        "choices": r.choices,
        "deadline_flagged": r.deadline_flagged,
    }


def user_from(data: JSON) -> User:
    return User(id=data["id"], name=data["name"], bot=data["bot"])


def guild_from(data: JSON) -> Guild:
    return Guild(
        id=data["id"],
        name=data["name"],
        owner_id=data["owner_id"],
        premium_tier=data["premium_tier"],
        limits=Limits(**data["limits"]),
        member_ids=list(data["member_ids"]),
        channel_ids=list(data["channel_ids"]),
        joined_at=datetime.fromisoformat(data["joined_at"]),
    )


def channel_from(data: JSON) -> Channel:
    return Channel(**data)


def attachment_from(data: JSON, path: Path) -> Attachment:
    return Attachment(**data, url="", path=path)


def message_from(data: JSON, attachments: dict[int, Attachment]) -> Message:
    fields: dict[str, Any] = dict(data)
    kept = [attachments[i] for i in fields.pop("attachment_ids") if i in attachments]
    fields["attachments"] = kept
    fields["timestamp"] = datetime.fromisoformat(data["timestamp"])
    edited = data["edited_timestamp"]
    fields["edited_timestamp"] = datetime.fromisoformat(edited) if edited else None
    return Message(**fields)


def interaction_from(data: JSON, world: World, created_at: float) -> InteractionRecord:
    """`created_at` is the creation time on this process's clock."""
    shift = created_at - data["created"]
    return InteractionRecord(
        id=data["id"],
        token=data["token"],
        type=data["type"],
        user_id=data["user_id"],
        channel_id=data["channel_id"],
        guild_id=data["guild_id"],
        payload=data["payload"],
        created_at=created_at,
        world=world,
        callbacks=[Callback(c["type"], c["body"], [], c["at"] + shift) for c in data["callbacks"]],
        original_message_id=data["original_message_id"],
        followup_ids=list(data["followup_ids"]),
        modal=data["modal"],
        choices=data["choices"],
        deadline_flagged=data["deadline_flagged"],
    )
