"""Discord JSON objects built from the world's records, with every key discord.py reads."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from playground.models import (
    CHANNEL_DM,
    JSON,
    Attachment,
    Channel,
    Guild,
    Message,
    User,
)

if TYPE_CHECKING:
    from playground.world import World

ALL_PERMISSIONS = "2251799813685247"
_USER_MENTION = re.compile(r"<@!?(\d+)>")


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def user(u: User) -> JSON:
    return {
        "id": str(u.id),
        "username": u.name,
        "discriminator": "0",
        "global_name": u.name,
        "avatar": None,
        "bot": u.bot,
        "public_flags": 0,
    }


def self_user(u: User) -> JSON:
    return {
        **user(u),
        "verified": True,
        "mfa_enabled": False,
        "flags": 0,
        "locale": "en-US",
        "email": None,
    }


def member(guild: Guild, u: User, *, with_user: bool = True, permissions: bool = False) -> JSON:
    data: JSON = {
        "roles": [],
        "joined_at": iso(guild.joined_at),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "nick": None,
        "avatar": None,
        "premium_since": None,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user(u)
    if permissions:
        data["permissions"] = ALL_PERMISSIONS
    return data


def everyone_role(guild: Guild) -> JSON:
    return {
        "id": str(guild.id),
        "name": "@everyone",
        "permissions": ALL_PERMISSIONS,
        "position": 0,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
        "icon": None,
        "unicode_emoji": None,
    }


def channel(world: World, ch: Channel) -> JSON:
    last = str(ch.last_message_id) if ch.last_message_id else None
    if ch.type == CHANNEL_DM:
        recipient = world.users[ch.recipient_id or 0]
        return {
            "id": str(ch.id),
            "type": CHANNEL_DM,
            "recipients": [user(recipient)],
            "last_message_id": last,
            "flags": 0,
        }
    return {
        "id": str(ch.id),
        "type": ch.type,
        "guild_id": str(ch.guild_id),
        "name": ch.name,
        "position": ch.position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": last,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def guild(world: World, g: Guild) -> JSON:
    """The full GUILD_CREATE / GET guild object, with every member and an exact member_count."""
    members = [member(g, world.users[uid]) for uid in g.member_ids]
    return {
        "id": str(g.id),
        "name": g.name,
        "unavailable": False,
        "owner_id": str(g.owner_id),
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "features": [],
        "premium_tier": g.premium_tier,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "system_channel_id": None,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "application_id": None,
        "large": False,
        "joined_at": iso(g.joined_at),
        "member_count": len(members),
        "members": members,
        "roles": [everyone_role(g)],
        "channels": [channel(world, world.channels[cid]) for cid in g.channel_ids],
        "threads": [],
        "emojis": [],
        "stickers": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def attachment(att: Attachment) -> JSON:
    data: JSON = {
        "id": str(att.id),
        "filename": att.filename,
        "size": att.size,
        "url": att.url,
        "proxy_url": att.url,
        "content_type": att.content_type,
    }
    if att.description is not None:
        data["description"] = att.description
    if att.ephemeral:
        data["ephemeral"] = True
    if att.width is not None:
        data["width"], data["height"] = att.width, att.height
    return data


def message(world: World, m: Message) -> JSON:
    """A REST-style message; `message_event` adds the gateway-only keys."""
    mentions = [
        user(world.users[int(uid)])
        for uid in dict.fromkeys(_USER_MENTION.findall(m.content))
        if int(uid) in world.users
    ]
    data: JSON = {
        "id": str(m.id),
        "type": m.type,
        "channel_id": str(m.channel_id),
        "author": user(world.users[m.author_id]),
        "content": m.content,
        "timestamp": iso(m.timestamp),
        "edited_timestamp": iso(m.edited_timestamp),
        "tts": False,
        "mention_everyone": False,
        "mentions": mentions,
        "mention_roles": [],
        "attachments": [attachment(a) for a in m.attachments],
        "embeds": m.embeds,
        "components": m.components,
        "reactions": [_reaction(world, emoji, users) for emoji, users in m.reactions.items()],
        "pinned": False,
        "flags": m.flags,
    }
    if m.guild_id is not None:
        data["guild_id"] = str(m.guild_id)
    if m.nonce is not None:
        data["nonce"] = m.nonce
    if m.webhook_id is not None:
        data["webhook_id"] = str(m.webhook_id)
        data["application_id"] = str(world.application_id)
    if m.interaction_metadata is not None:
        data["interaction_metadata"] = m.interaction_metadata
    if m.message_reference is not None:
        data["message_reference"] = m.message_reference
    return data


def message_event(world: World, m: Message) -> JSON:
    """MESSAGE_CREATE/UPDATE data: the message plus `member` for guild authors."""
    data = message(world, m)
    guild_ = world.guilds.get(m.guild_id) if m.guild_id is not None else None
    if guild_ is not None and m.webhook_id is None and m.author_id in guild_.member_ids:
        data["member"] = member(guild_, world.users[m.author_id], with_user=False)
    return data


def _reaction(world: World, emoji: str, users: list[int]) -> JSON:
    me = world.bot_user.id in users
    return {
        "emoji": emoji_object(emoji),
        "count": len(users),
        "count_details": {"burst": 0, "normal": len(users)},
        "me": me,
        "me_burst": False,
        "burst_colors": [],
    }


def emoji_object(emoji: str) -> JSON:
    """`name:id` is a custom emoji (as in reaction routes); anything else is unicode."""
    name, sep, emoji_id = emoji.partition(":")
    if sep and emoji_id.isdigit():
        return {"id": emoji_id, "name": name, "animated": False}
    return {"id": None, "name": emoji}


def app_info(world: World) -> JSON:
    return {
        "id": str(world.application_id),
        "name": world.bot_user.name,
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user(world.owner),
        "verify_key": "0" * 64,
        "flags": 0,
        "team": None,
        "interactions_endpoint_url": None,
        "bot": user(world.bot_user),
    }


def interaction(
    world: World,
    *,
    interaction_id: int,
    token: str,
    kind: int,
    invoker: User,
    ch: Channel,
    data: JSON,
    message_data: JSON | None = None,
) -> JSON:
    """An INTERACTION_CREATE payload; `attachment_size_limit` is required by discord.py ≥ 2.6."""
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(world.application_id),
        "type": kind,
        "token": token,
        "version": 1,
        "channel_id": str(ch.id),
        "channel": channel(world, ch),
        "app_permissions": ALL_PERMISSIONS,
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": world.upload_limit(ch.id),
        "data": data,
    }
    if ch.guild_id is not None:
        g = world.guilds[ch.guild_id]
        payload.update(
            guild_id=str(g.id),
            guild={"id": str(g.id), "locale": "en-US", "features": []},
            guild_locale="en-US",
            member=member(g, invoker, permissions=True),
            authorizing_integration_owners={"0": str(g.id)},
            context=0,
        )
    else:
        payload.update(user=user(invoker), context=1)
    if message_data is not None:
        payload["message"] = message_data
    return payload
