"""Messages and their files: create, edit, delete, react, page through a channel.

A mixin of `World` (its state is the world's); every change dispatches the gateway event a
bot would get and tells the world's listeners.
"""

from __future__ import annotations

import bisect
import copy
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from playground import payloads
from playground.errors import form_error
from playground.models import (
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    JSON,
    Attachment,
    Channel,
    Clock,
    Guild,
    Message,
    UploadedFile,
    User,
)

if TYPE_CHECKING:
    from playground.world import World

INTENT_MESSAGE_CONTENT = 1 << 15


class MessagesMixin:
    """The message half of `World`."""

    clock: Clock
    keep_revisions: bool
    http_base: str
    intents: int | None
    users: dict[int, User]
    guilds: dict[int, Guild]
    messages: dict[int, Message]
    attachments: dict[int, Attachment]
    bot_user: User
    _by_channel: dict[int, list[int]]

    if TYPE_CHECKING:

        def snowflake(self) -> int: ...
        def dispatch(self, event: str, data: JSON) -> None: ...
        def emit(self, kind: str, subject: object) -> None: ...

    @property
    def _world(self) -> World:
        return cast("World", self)

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
            msg.revisions.append(payloads.message(self._world, msg))
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
        data = payloads.message_event(self._world, msg)
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
