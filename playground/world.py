"""The emulated world: state that outlives every bot connection, and the mutations that dispatch."""

from __future__ import annotations

import asyncio
import copy
import io
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from playground import payloads
from playground.errors import form_error, unknown_channel
from playground.models import (
    CHANNEL_DM,
    DM_UPLOAD_LIMIT,
    FLAG_EPHEMERAL,
    JSON,
    Attachment,
    Channel,
    Clock,
    Frame,
    Guild,
    HostedFile,
    InteractionRecord,
    Limits,
    Message,
    RequestRecord,
    UploadedFile,
    User,
    Violation,
)

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1420070400000
INTENT_MESSAGE_CONTENT = 1 << 15
Dispatcher = Callable[[str, JSON], None]


class World:
    """Users, guilds, channels, messages, commands and interactions, plus the logs tests read."""

    def __init__(self, *, token: str, bot_name: str, ack_deadline: float, token_lifetime: float):
        self.clock = Clock()
        self.token = token
        self.ack_deadline = ack_deadline
        self.token_lifetime = token_lifetime
        self.http_base = ""
        self.gateway_url = ""
        self.intents: int | None = None
        self._last_snowflake = 0
        self._changed = asyncio.Event()
        self._dispatch: Dispatcher = lambda event, data: None

        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.attachments: dict[int, Attachment] = {}
        self.commands: dict[int | None, list[JSON]] = {}
        self.interactions: dict[str, InteractionRecord] = {}
        self.nonces: dict[tuple[int, int, str], int] = {}
        self.hosted: dict[str, HostedFile] = {}

        self.requests: list[RequestRecord] = []
        self.violations: list[Violation] = []
        self.frames: list[Frame] = []

        self.owner = self.add_user("owner")
        self.bot_user = self.add_user(bot_name, bot=True)
        self.application_id = self.bot_user.id

    # -- bookkeeping -------------------------------------------------------------------------

    def snowflake(self) -> int:
        """Real-looking, strictly increasing ids, so `discord.utils.snowflake_time` is sane."""
        ms = int(time.time() * 1000 + self.clock.offset * 1000) - DISCORD_EPOCH_MS
        self._last_snowflake = max(ms << 22, self._last_snowflake + 1)
        return self._last_snowflake

    def new_token(self) -> str:
        return "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)

    def changed(self) -> None:
        """Wake every `wait_for`: called on each request, frame and state change."""
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    @property
    def change_event(self) -> asyncio.Event:
        return self._changed

    def violation(self, kind: str, message: str, **where: Any) -> Violation:
        found = Violation(kind=kind, message=message, **where)
        self.violations.append(found)
        log.warning("discord emulator violation %s: %s", kind, message)
        self.changed()
        return found

    def set_dispatcher(self, dispatcher: Dispatcher) -> None:
        self._dispatch = dispatcher

    def dispatch(self, event: str, data: JSON) -> None:
        self._dispatch(event, data)
        self.changed()

    # -- entities ----------------------------------------------------------------------------

    def add_user(self, name: str, *, bot: bool = False) -> User:
        new = User(id=self.snowflake(), name=name, bot=bot)
        self.users[new.id] = new
        return new

    def add_guild(self, name: str, *, premium_tier: int = 0) -> Guild:
        new = Guild(id=self.snowflake(), name=name, owner_id=self.owner.id)
        new.premium_tier = premium_tier
        new.joined_at = self.clock.utcnow()
        new.member_ids.extend([self.owner.id, self.bot_user.id])
        self.guilds[new.id] = new
        return new

    def add_channel(self, guild_id: int, name: str) -> Channel:
        guild = self.guilds[guild_id]
        new = Channel(
            id=self.snowflake(), name=name, guild_id=guild_id, position=len(guild.channel_ids)
        )
        self.channels[new.id] = new
        guild.channel_ids.append(new.id)
        return new

    def dm_channel(self, user_id: int) -> Channel:
        for ch in self.channels.values():
            if ch.type == CHANNEL_DM and ch.recipient_id == user_id:
                return ch
        new = Channel(id=self.snowflake(), name="", type=CHANNEL_DM, recipient_id=user_id)
        self.channels[new.id] = new
        return new

    def channel(self, channel_id: int) -> Channel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise unknown_channel() from None

    def limits(self, channel_id: int) -> Limits:
        guild_id = self.channel(channel_id).guild_id
        return self.guilds[guild_id].limits if guild_id is not None else Limits()

    def upload_limit(self, channel_id: int) -> int:
        guild_id = self.channel(channel_id).guild_id
        return self.guilds[guild_id].upload_limit if guild_id is not None else DM_UPLOAD_LIMIT

    def store_attachment(
        self,
        channel_id: int,
        filename: str,
        content_type: str,
        data: bytes,
        *,
        description: str | None = None,
        ephemeral: bool = False,
    ) -> Attachment:
        att_id = self.snowflake()
        url = f"{self.http_base}/attachments/{channel_id}/{att_id}/{quote(filename)}"
        att = Attachment(
            id=att_id,
            channel_id=channel_id,
            filename=filename,
            content_type=content_type,
            data=data,
            url=url,
            description=description,
            ephemeral=ephemeral,
        )
        att.width, att.height = _image_size(data)
        self.attachments[att_id] = att
        return att

    # -- messages ----------------------------------------------------------------------------

    def create_message(
        self,
        ch: Channel,
        author_id: int,
        body: JSON,
        files: Sequence[UploadedFile] = (),
        **fields: Any,
    ) -> Message:
        """Store a message built from a request body, then MESSAGE_CREATE unless ephemeral."""
        msg = Message(
            id=self.snowflake(),
            channel_id=ch.id,
            guild_id=ch.guild_id,
            author_id=author_id,
            timestamp=self.clock.utcnow(),
            **fields,
        )
        msg.content = body.get("content") or ""
        msg.embeds = list(body.get("embeds") or [])
        msg.components = number_components(body.get("components") or [])
        msg.flags |= int(body.get("flags") or 0)
        msg.attachments = self._attachments(ch.id, body, files, [], ephemeral=msg.ephemeral)
        self.messages[msg.id] = msg
        ch.last_message_id = msg.id
        if not msg.ephemeral:
            self.dispatch("MESSAGE_CREATE", self._message_event(msg))
        self.changed()
        return msg

    def edit_message(
        self, msg: Message, body: JSON, files: Sequence[UploadedFile] = (), *, clear_flags: int = 0
    ) -> Message:
        """Apply the keys present in `body` (absent keys keep their value), then MESSAGE_UPDATE."""
        msg.revisions.append(payloads.message(self, msg))
        if "content" in body:
            msg.content = body["content"] or ""
        if "embeds" in body:
            msg.embeds = list(body["embeds"] or [])
        if "components" in body:
            msg.components = number_components(body["components"] or [])
        if body.get("flags") is not None:
            # Only the presentation bits are editable; ephemeral/loading belong to Discord.
            msg.flags = (msg.flags & (FLAG_EPHEMERAL | 128)) | (int(body["flags"]) & ~0xC0)
        msg.flags &= ~clear_flags
        if "attachments" in body or files:
            msg.attachments = self._attachments(
                msg.channel_id, body, files, msg.attachments, ephemeral=msg.ephemeral
            )
        msg.edited_timestamp = self.clock.utcnow()
        if not msg.ephemeral:
            self.dispatch("MESSAGE_UPDATE", self._message_event(msg))
        self.changed()
        return msg

    def delete_message(self, msg: Message) -> None:
        msg.deleted = True
        if not msg.ephemeral:
            data: JSON = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id is not None:
                data["guild_id"] = str(msg.guild_id)
            self.dispatch("MESSAGE_DELETE", data)
        self.changed()

    def react(self, msg: Message, emoji: str, user_id: int, *, add: bool) -> bool:
        """Add or remove one user's reaction; False when nothing changed."""
        users = msg.reactions.setdefault(emoji, [])
        if (user_id in users) == add:
            return False
        if add:
            users.append(user_id)
        else:
            users.remove(user_id)
            if not users:
                del msg.reactions[emoji]
        data: JSON = {
            "user_id": str(user_id),
            "channel_id": str(msg.channel_id),
            "message_id": str(msg.id),
            "emoji": payloads.emoji_object(emoji),
            "burst": False,
            "type": 0,
        }
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
            guild = self.guilds[msg.guild_id]
            if add and user_id in guild.member_ids:
                data["member"] = payloads.member(guild, self.users[user_id])
        if add:
            data["message_author_id"] = str(msg.author_id)
        self.dispatch("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", data)
        return True

    def _message_event(self, msg: Message) -> JSON:
        data = payloads.message_event(self, msg)
        if self._hides_content(msg):
            data.update(content="", embeds=[], attachments=[], components=[])
        return data

    def _hides_content(self, msg: Message) -> bool:
        """Without the message-content intent, guild messages of others arrive blank."""
        if self.intents is None or self.intents & INTENT_MESSAGE_CONTENT:
            return False
        if msg.guild_id is None or msg.author_id == self.bot_user.id:
            return False
        return self.bot_user.mention not in msg.content

    def _attachments(
        self,
        channel_id: int,
        body: JSON,
        files: Sequence[UploadedFile],
        existing: list[Attachment],
        *,
        ephemeral: bool,
    ) -> list[Attachment]:
        """Resolve `attachments` entries: kept snowflakes, `{"id": n}` for `files[n]`, leftovers."""
        pending = {f.index: f for f in files}
        entries = body.get("attachments")
        by_id = {str(a.id): a for a in existing}
        result: list[Attachment] = [] if entries is not None else list(existing)
        for position, entry in enumerate(entries or []):
            ref = str(entry.get("id"))
            if ref in by_id:
                result.append(by_id[ref])
            elif ref.isdigit() and int(ref) in pending:
                upload = pending.pop(int(ref))
                result.append(self._store_upload(channel_id, upload, entry, ephemeral))
            else:
                raise form_error(
                    f"attachments.{position}.id", "ATTACHMENT_NOT_FOUND", f"Unknown file {ref}"
                )
        result.extend(self._store_upload(channel_id, f, {}, ephemeral) for f in pending.values())
        return result

    def _store_upload(
        self, channel_id: int, upload: UploadedFile, entry: JSON, ephemeral: bool
    ) -> Attachment:
        return self.store_attachment(
            channel_id,
            entry.get("filename") or upload.filename,
            upload.content_type,
            upload.data,
            description=entry.get("description"),
            ephemeral=ephemeral,
        )

    # -- interactions ------------------------------------------------------------------------

    def check_deadlines(self) -> None:
        """Flag every interaction left unacknowledged past the deadline, once."""
        now = self.clock.now()
        for rec in self.interactions.values():
            late = now - rec.created_at > self.ack_deadline
            if late and not rec.acknowledged and not rec.deadline_flagged:
                rec.deadline_flagged = True
                self.violation(
                    "ack_deadline",
                    f"{describe(rec)} was not acknowledged within {self.ack_deadline} s "
                    "(the user sees 'The application did not respond')",
                )


def describe(rec: InteractionRecord) -> str:
    if rec.command_name is not None:
        return f"interaction {rec.id} (/{rec.command_name})"
    return f"interaction {rec.id} (custom_id {rec.custom_id!r})"


def number_components(components: list[JSON]) -> list[JSON]:
    """Copy the components and give each one a numeric `id`, as Discord does when it is absent."""
    result = copy.deepcopy(components)
    stack: list[Any] = list(result)
    flat: list[JSON] = []
    while stack:
        item = stack.pop(0)
        if not isinstance(item, dict):
            continue
        flat.append(item)
        stack[0:0] = [*(item.get("components") or []), item.get("accessory"), item.get("component")]
    used = {c["id"] for c in flat if isinstance(c.get("id"), int)}
    counter = 0
    for item in flat:
        if not isinstance(item.get("id"), int):
            counter += 1
            while counter in used:
                counter += 1
            item["id"] = counter
    return result


def _image_size(data: bytes) -> tuple[int | None, int | None]:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # not an image: no width/height, like Discord
        return None, None
