"""Records of the emulated Discord world: users, guilds, channels, messages, interactions, logs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playground.world import World

JSON = dict[str, Any]

MiB = 1024 * 1024
# discord.py's Guild._PREMIUM_GUILD_LIMITS agrees, so `guild.filesize_limit` matches the emulator.
PREMIUM_UPLOAD_LIMITS = {0: 10 * MiB, 1: 10 * MiB, 2: 50 * MiB, 3: 100 * MiB}
DM_UPLOAD_LIMIT = 10 * MiB

FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_COMPONENTS_V2 = 1 << 15

CHANNEL_TEXT = 0
CHANNEL_DM = 1

INTERACTION_PING = 1
INTERACTION_COMMAND = 2
INTERACTION_COMPONENT = 3
INTERACTION_AUTOCOMPLETE = 4
INTERACTION_MODAL_SUBMIT = 5


class Clock:
    """Monotonic time plus a test-controlled offset; `advance()` moves every deadline at once."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self.offset

    def utcnow(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds


@dataclass(slots=True)
class User:
    id: int
    name: str
    bot: bool = False

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(slots=True)
class Limits:
    """Message rules of one guild. `upload_bytes=None` derives the upload limit from the tier."""

    max_content: int = 2000
    max_embeds: int = 10
    max_action_rows: int = 5
    max_row_items: int = 5
    max_custom_id: int = 100
    upload_bytes: int | None = None


@dataclass(slots=True)
class Guild:
    id: int
    name: str
    owner_id: int
    premium_tier: int = 0
    limits: Limits = field(default_factory=Limits)
    member_ids: list[int] = field(default_factory=list)
    channel_ids: list[int] = field(default_factory=list)
    joined_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def upload_limit(self) -> int:
        if self.limits.upload_bytes is not None:
            return self.limits.upload_bytes
        return PREMIUM_UPLOAD_LIMITS[self.premium_tier]


@dataclass(slots=True)
class Channel:
    id: int
    name: str
    type: int = CHANNEL_TEXT
    guild_id: int | None = None
    position: int = 0
    recipient_id: int | None = None
    last_message_id: int | None = None
    typing_count: int = 0


@dataclass(slots=True)
class Attachment:
    """An uploaded file. Its bytes are in memory (`blob`) until a store writes them to `path`."""

    id: int
    channel_id: int
    filename: str
    content_type: str
    size: int
    url: str
    description: str | None = None
    ephemeral: bool = False
    width: int | None = None
    height: int | None = None
    blob: bytes | None = field(default=None, repr=False)
    path: Path | None = None

    @property
    def data(self) -> bytes:
        if self.blob is not None:
            return self.blob
        if self.path is None:
            raise FileNotFoundError(f"attachment {self.id} has no bytes")
        return self.path.read_bytes()


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One `files[n]` part of a multipart request, exactly as it arrived."""

    index: int
    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(slots=True)
class Message:
    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    edited_timestamp: datetime | None = None
    deleted: bool = False
    nonce: str | None = None
    webhook_id: int | None = None
    interaction_metadata: JSON | None = None
    message_reference: JSON | None = None
    reactions: dict[str, list[int]] = field(default_factory=dict)
    revisions: list[JSON] = field(default_factory=list)
    command: str | None = None
    """`/name sub` of the command whose response this is: the client shows "used /name"."""

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & FLAG_LOADING)

    def iter_components(self) -> Iterator[JSON]:
        """Every component, depth first, whether in action rows or components-v2 layouts."""
        stack = list(reversed(self.components))
        while stack:
            component = stack.pop()
            yield component
            children = list(component.get("components") or [])
            for key in ("accessory", "component"):
                if isinstance(component.get(key), dict):
                    children.append(component[key])
            stack.extend(reversed(children))

    def find_component(self, custom_id: str) -> JSON | None:
        return next((c for c in self.iter_components() if c.get("custom_id") == custom_id), None)

    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in self.iter_components() if "custom_id" in c]


@dataclass(slots=True)
class Callback:
    """One accepted interaction callback: its body, its files and the clock time it arrived."""

    type: int
    body: JSON
    files: list[UploadedFile]
    at: float


@dataclass(slots=True)
class InteractionRecord:
    """An interaction the driver sent, and everything the bot did with its token."""

    id: int
    token: str
    type: int
    user_id: int
    channel_id: int
    guild_id: int | None
    payload: JSON = field(repr=False)
    created_at: float
    world: World = field(repr=False)
    callbacks: list[Callback] = field(default_factory=list)
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    modal: JSON | None = None
    choices: list[JSON] | None = None
    deadline_flagged: bool = False

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)

    @property
    def response(self) -> JSON | None:
        """Body of the accepted callback (`{"type": n, "data": {...}}`), or None."""
        return self.callbacks[0].body if self.callbacks else None

    @property
    def response_type(self) -> int | None:
        return self.callbacks[0].type if self.callbacks else None

    @property
    def callback_files(self) -> list[list[UploadedFile]]:
        return [cb.files for cb in self.callbacks]

    @property
    def source_message_id(self) -> int | None:
        """The message a component (or a modal opened from one) belongs to."""
        message = self.payload.get("message")
        return int(message["id"]) if message else None

    @property
    def original_message(self) -> Message | None:
        if self.original_message_id is None:
            return None
        return self.world.messages.get(self.original_message_id)

    @property
    def followups(self) -> list[Message]:
        return [self.world.messages[i] for i in self.followup_ids]

    @property
    def command_name(self) -> str | None:
        data = self.payload.get("data") or {}
        name = data.get("name")
        return str(name) if name is not None else None

    @property
    def custom_id(self) -> str | None:
        data = self.payload.get("data") or {}
        custom_id = data.get("custom_id")
        return str(custom_id) if custom_id is not None else None


@dataclass(frozen=True, slots=True)
class Violation:
    """A rule the bot broke (or an emulator failure); `kind` is a short stable name."""

    kind: str
    message: str
    method: str = ""
    path: str = ""
    status: int = 0
    code: int = 0
    channel_id: int | None = None
    """The channel it concerns, when known: the web client shows the notice there."""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    status: int
    authorized: bool
    json: Any = field(repr=False)
    files: tuple[UploadedFile, ...] = field(default=(), repr=False)
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Frame:
    """One gateway frame; `direction` is "in" (bot → emulator) or "out"."""

    direction: str
    op: int
    t: str | None
    s: int | None
    d: Any = field(repr=False)
    session_id: str | None = None


@dataclass(slots=True)
class HostedFile:
    path: str
    data: bytes = field(repr=False)
    content_type: str
    status: int = 200
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_size: int = 64 * 1024
    redirect_to: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0
