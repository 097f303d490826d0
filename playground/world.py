"""The emulated world: state that outlives every bot connection, and the mutations that dispatch."""

from __future__ import annotations

import asyncio
import bisect
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
    FLAG_LOADING,
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
Listener = Callable[[str, object], None]
"""Told of every change: ("message", Message), ("attachments_dropped", [Attachment]), ("user",
User), ("guild", Guild), ("channel", Channel), ("commands", scope), ("interaction",
InteractionRecord), ("violation", Violation), ("presence", connected)."""


class World:
    """Users, guilds, channels, messages, commands and interactions, plus the logs tests read.

    `log_limit` bounds the request and frame logs and `keep_revisions=False` drops old message
    versions: a long-running playground keeps only what a person can see.
    """

    def __init__(
        self,
        *,
        token: str,
        bot_name: str,
        ack_deadline: float,
        token_lifetime: float,
        log_limit: int | None = None,
        keep_revisions: bool = True,
    ) -> None:
        self.clock = Clock()
        self.token = token
        self.ack_deadline = ack_deadline
        self.token_lifetime = token_lifetime
        self.log_limit = log_limit
        self.keep_revisions = keep_revisions
        self.http_base = ""
        self.gateway_url = ""
        self.intents: int | None = None
        self._last_snowflake = 0
        self._changed = asyncio.Event()
        self._dispatch: Dispatcher = lambda event, data: None
        self._listeners: list[Listener] = []
        self._by_channel: dict[int, list[int]] = {}
        self._unacknowledged: dict[str, InteractionRecord] = {}

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

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, kind: str, subject: object) -> None:
        for listener in self._listeners:
            listener(kind, subject)
        self.changed()

    def violation(self, kind: str, message: str, **where: Any) -> Violation:
        found = Violation(kind=kind, message=message, **where)
        self.violations.append(found)
        self._trim(self.violations)
        log.warning("discord emulator violation %s: %s", kind, message)
        self.emit("violation", found)
        return found

    def record_request(self, record: RequestRecord) -> None:
        self.requests.append(record)
        self._trim(self.requests)
        self.changed()

    def record_frame(self, frame: Frame) -> None:
        self.frames.append(frame)
        self._trim(self.frames)
        self.changed()

    def _trim(self, entries: list[Any]) -> None:
        """Keep the newest `log_limit` entries (amortised: trims at twice the limit)."""
        if self.log_limit is not None and len(entries) > 2 * self.log_limit:
            del entries[: -self.log_limit]

    def set_dispatcher(self, dispatcher: Dispatcher) -> None:
        self._dispatch = dispatcher

    def dispatch(self, event: str, data: JSON) -> None:
        self._dispatch(event, data)
        self.changed()

    def restored(self, last_snowflake: int) -> None:
        """After a store filled the dictionaries: rebuild the indexes, continue the ids."""
        self._last_snowflake = max(self._last_snowflake, last_snowflake)
        self._by_channel = {}
        for msg in sorted(self.messages.values(), key=lambda m: m.id):
            self._by_channel.setdefault(msg.channel_id, []).append(msg.id)
            self.channels[msg.channel_id].last_message_id = msg.id
        self._unacknowledged = {t: r for t, r in self.interactions.items() if not r.acknowledged}

    # -- entities ----------------------------------------------------------------------------

    def add_user(self, name: str, *, bot: bool = False) -> User:
        new = User(id=self.snowflake(), name=name, bot=bot)
        self.users[new.id] = new
        self.emit("user", new)
        return new

    def user_named(self, name: str) -> User | None:
        return next((u for u in self.users.values() if u.name == name and not u.bot), None)

    def add_guild(self, name: str, *, premium_tier: int = 0) -> Guild:
        new = Guild(id=self.snowflake(), name=name, owner_id=self.owner.id)
        new.premium_tier = premium_tier
        new.joined_at = self.clock.utcnow()
        new.member_ids.extend([self.owner.id, self.bot_user.id])
        self.guilds[new.id] = new
        self.emit("guild", new)
        return new

    def add_member(self, guild: Guild, user: User) -> None:
        guild.member_ids.append(user.id)
        self.emit("guild", guild)

    def add_channel(self, guild_id: int, name: str) -> Channel:
        guild = self.guilds[guild_id]
        new = Channel(
            id=self.snowflake(), name=name, guild_id=guild_id, position=len(guild.channel_ids)
        )
        self.channels[new.id] = new
        guild.channel_ids.append(new.id)
        self.emit("channel", new)
        self.emit("guild", guild)
        return new

    def dm_channel(self, user_id: int) -> Channel:
        for ch in self.channels.values():
            if ch.type == CHANNEL_DM and ch.recipient_id == user_id:
                return ch
        new = Channel(id=self.snowflake(), name="", type=CHANNEL_DM, recipient_id=user_id)
        self.channels[new.id] = new
        self.emit("channel", new)
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

    def set_commands(self, scope: int | None, commands: list[JSON]) -> None:
        self.commands[scope] = commands
        self.emit("commands", scope)

    def attachment_url(self, att: Attachment) -> str:
        return f"{self.http_base}/attachments/{att.channel_id}/{att.id}/{quote(att.filename)}"

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
        att = Attachment(
            id=self.snowflake(),
            channel_id=channel_id,
            filename=filename,
            content_type=content_type,
            size=len(data),
            url="",
            description=description,
            ephemeral=ephemeral,
            blob=data,
        )
        att.url = self.attachment_url(att)
        att.width, att.height = _image_size(data)
        self.attachments[att.id] = att
        self.emit("attachment", att)
        return att

    # -- messages ----------------------------------------------------------------------------

    def channel_messages(
        self, channel_id: int, *, before: int | None = None, limit: int | None = None
    ) -> list[Message]:
        """Messages of a channel in order, deleted ones included; the newest `limit` before
        `before` when given (an index, so paging a long channel never scans the world)."""
        ids = self._by_channel.get(channel_id, [])
        end = bisect.bisect_left(ids, before) if before is not None else len(ids)
        start = max(0, end - limit) if limit is not None else 0
        return [self.messages[i] for i in ids[start:end]]

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
        self._by_channel.setdefault(ch.id, []).append(msg.id)
        ch.last_message_id = msg.id
        if not msg.ephemeral:
            self.dispatch("MESSAGE_CREATE", self._message_event(msg))
        self.emit("message", msg)
        return msg

    def edit_message(
        self, msg: Message, body: JSON, files: Sequence[UploadedFile] = (), *, clear_flags: int = 0
    ) -> Message:
        """Apply the keys present in `body` (absent keys keep their value), then MESSAGE_UPDATE."""
        if self.keep_revisions:
            msg.revisions.append(payloads.message(self, msg))
        before = list(msg.attachments)
        if "content" in body:
            msg.content = body["content"] or ""
        if "embeds" in body:
            msg.embeds = list(body["embeds"] or [])
        if "components" in body:
            msg.components = number_components(body["components"] or [])
        if body.get("flags") is not None:
            # Only the presentation bits are editable; ephemeral/loading belong to Discord.
            msg.flags = (msg.flags & (FLAG_EPHEMERAL | 128)) | (int(body["flags"]) & ~0xC0)
        answers_a_defer = msg.loading and bool(clear_flags & FLAG_LOADING)
        msg.flags &= ~clear_flags
        if "attachments" in body or files:
            msg.attachments = self._attachments(
                msg.channel_id, body, files, msg.attachments, ephemeral=msg.ephemeral
            )
        if not answers_a_defer:  # the answer to "thinking…" is not an edit (no "(edited)")
            msg.edited_timestamp = self.clock.utcnow()
        if not msg.ephemeral:
            self.dispatch("MESSAGE_UPDATE", self._message_event(msg))
        self.emit("message", msg)
        dropped = [a for a in before if a not in msg.attachments]
        if dropped:
            self.emit("attachments_dropped", dropped)
        return msg

    def delete_message(self, msg: Message) -> None:
        msg.deleted = True
        if not msg.ephemeral:
            data: JSON = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id is not None:
                data["guild_id"] = str(msg.guild_id)
            self.dispatch("MESSAGE_DELETE", data)
        self.emit("message", msg)
        if msg.attachments:
            self.emit("attachments_dropped", list(msg.attachments))

    def react(self, msg: Message, emoji: str, user_id: int, *, add: bool) -> bool:
        """Add or remove one user's reaction; False when nothing changed."""
        users = msg.reactions.setdefault(emoji, [])
        if (user_id in users) == add:
            if not users:
                del msg.reactions[emoji]
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
        self.emit("message", msg)
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

    def add_interaction(self, rec: InteractionRecord) -> None:
        """Register an interaction and check its 3 s deadline in real time (not only when a
        request or `advance()` comes by)."""
        self.interactions[rec.token] = rec
        self._unacknowledged[rec.token] = rec
        self.emit("interaction", rec)
        loop = asyncio.get_running_loop()
        loop.call_later(self.ack_deadline + 0.01, self.check_deadlines)

    def interaction_changed(self, rec: InteractionRecord) -> None:
        self.emit("interaction", rec)

    def interaction_by_id(self, interaction_id: int) -> InteractionRecord | None:
        return next((r for r in self.interactions.values() if r.id == interaction_id), None)

    def forget_interactions(self, older_than: float) -> list[InteractionRecord]:
        """Drop interactions created more than `older_than` s ago (their tokens are dead)."""
        cutoff = self.clock.now() - older_than
        old = [r for r in self.interactions.values() if r.created_at < cutoff]
        for rec in old:
            del self.interactions[rec.token]
            self._unacknowledged.pop(rec.token, None)
        return old

    def check_deadlines(self) -> None:
        """Flag every interaction left unacknowledged past the deadline, once."""
        now = self.clock.now()
        for token, rec in list(self._unacknowledged.items()):
            if rec.acknowledged:
                del self._unacknowledged[token]
            elif now - rec.created_at > self.ack_deadline:
                del self._unacknowledged[token]
                rec.deadline_flagged = True
                self.violation(
                    "ack_deadline",
                    f"{describe(rec)} was not acknowledged within {self.ack_deadline} s "
                    "(the user sees 'The application did not respond')",
                    channel_id=rec.channel_id,
                )
                self.interaction_changed(rec)


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
