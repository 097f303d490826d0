"""The emulated world: state that outlives every bot connection, and the mutations that dispatch."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from playground.errors import unknown_channel
from playground.messages import MessagesMixin
from playground.models import (
    CHANNEL_DM,
    DM_UPLOAD_LIMIT,
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
    User,
    Violation,
)

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1420070400000
Dispatcher = Callable[[str, JSON], None]
Listener = Callable[[str, object], None]
"""Told of every change: ("message", Message), ("attachments_dropped", [Attachment]), ("user",
User), ("guild", Guild), ("channel", Channel), ("commands", scope), ("interaction",
InteractionRecord), ("violation", Violation), ("presence", connected)."""


class World(MessagesMixin):
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
