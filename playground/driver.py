"""`Emulator`: start/stop the server, act as Discord users, inspect and bend the world."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from playground import actions, payloads
from playground.actions import FileSpec
from playground.control import ControlMixin
from playground.errors import EmulatorError, EmulatorTimeoutError
from playground.gateway import PRIVILEGED_INTENTS
from playground.host import Playground
from playground.models import (
    JSON,
    Attachment,
    Channel,
    Frame,
    Guild,
    InteractionRecord,
    Message,
    RequestRecord,
    UploadedFile,
    User,
    Violation,
)
from playground.world import describe

T = TypeVar("T")
POLL_INTERVAL = 0.01
DEFAULT_TOKEN = "emulator-bot-token"  # noqa: S105 - a fake token for a fake Discord


class Emulator(Playground, ControlMixin):
    """A local Discord (REST + gateway + CDN) for one bot; see the package docstring.

    In memory unless `data_dir` is given (then the world persists there, as the product's).
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_name: str = "mjbot",
        guild_name: str = "Emulator Guild",
        channel_name: str = "general",
        premium_tier: int = 0,
        ack_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        privileged_intents: int = PRIVILEGED_INTENTS,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: Path | None = None,
    ) -> None:
        super().__init__(
            data_dir=data_dir,
            host=host,
            port=port,
            token=token,
            bot_name=bot_name,
            guild_name=guild_name,
            channel_names=(channel_name,),
            user_names=("alice", "bob"),
            premium_tier=premium_tier,
            ack_deadline=ack_deadline,
            token_lifetime=token_lifetime,
            privileged_intents=privileged_intents,
        )
        self.alice = self._person("alice")
        self.bob = self._person("bob")

    def _person(self, name: str) -> User:
        found = self.world.user_named(name)
        if found is None:
            raise EmulatorError(f"the world has no user {name!r}")
        return found

    async def start(self) -> Emulator:
        await super().start()
        return self

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- the world ----------------------------------------------------------------------------

    def add_user(self, name: str, *, guild_id: int | None = None) -> User:
        user = self.world.add_user(name)
        guild = self.guild(guild_id)
        self.world.add_member(guild, user)
        if self.connected:
            member = payloads.member(guild, user)
            self.world.dispatch("GUILD_MEMBER_ADD", {**member, "guild_id": str(guild.id)})
        return user

    def add_guild(
        self, name: str, *, premium_tier: int = 0, channel_name: str = "general"
    ) -> Guild:
        guild = self.world.add_guild(name, premium_tier=premium_tier)
        self.world.add_channel(guild.id, channel_name)
        if self.connected:
            self.world.dispatch("GUILD_CREATE", payloads.guild(self.world, guild))
        return guild

    def add_channel(self, name: str, *, guild_id: int | None = None) -> Channel:
        ch = self.world.add_channel(self.guild(guild_id).id, name)
        if self.connected:
            self.world.dispatch("CHANNEL_CREATE", payloads.channel(self.world, ch))
        return ch

    def set_upload_limit(self, limit_bytes: int | None, *, guild_id: int | None = None) -> None:
        """Lower (or, with None, restore) a guild's upload limit; interactions report it too."""
        self.guild(guild_id).limits.upload_bytes = limit_bytes

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """Commands as last synced: global ones, or those of `guild_id`."""
        return self.world.commands.get(guild_id, [])

    # -- acting as users ----------------------------------------------------------------------

    async def slash(
        self,
        name: str,
        user: User | None = None,
        *,
        channel_id: int | None = None,
        options: Mapping[str, Any] | None = None,
        attachments: Mapping[str, FileSpec] | None = None,
        subcommand: str | None = None,
    ) -> InteractionRecord:
        self._require_connected()
        rec = actions.slash(
            self.world,
            name,
            user or self.alice,
            self.channel(channel_id),
            options or {},
            attachments or {},
            subcommand,
        )
        return rec

    async def autocomplete(
        self,
        name: str,
        focused: str,
        user: User | None = None,
        *,
        channel_id: int | None = None,
        options: Mapping[str, Any] | None = None,
        subcommand: str | None = None,
    ) -> InteractionRecord:
        """Type into `focused` (its value in `options`, default empty): an autocomplete
        interaction whose choices `choices_of` returns."""
        self._require_connected()
        return actions.autocomplete(
            self.world,
            name,
            user or self.alice,
            self.channel(channel_id),
            options or {},
            focused,
            subcommand,
        )

    async def choices_of(self, rec: InteractionRecord, timeout: float = 5.0) -> list[JSON]:  # noqa: ASYNC109
        """The choices the bot offered for an autocomplete interaction."""
        found = await self.wait_for(
            lambda: (rec.choices,) if rec.choices is not None else None,
            timeout,
            what=f"choices for {describe(rec)}",
        )
        return found[0]

    async def click(
        self, message_id: int, custom_id: str, user: User | None = None
    ) -> InteractionRecord:
        self._require_connected()
        return actions.click(self.world, message_id, custom_id, user or self.alice)

    async def select(
        self, message_id: int, custom_id: str, values: Sequence[Any], user: User | None = None
    ) -> InteractionRecord:
        self._require_connected()
        return actions.select(self.world, message_id, custom_id, list(values), user or self.alice)

    async def submit_modal(
        self, opened_by: InteractionRecord, values: Mapping[str, Any], user: User | None = None
    ) -> InteractionRecord:
        self._require_connected()
        submitter = user or self.world.users[opened_by.user_id]
        return actions.submit_modal(self.world, opened_by, values, submitter)

    async def say(
        self,
        content: str,
        user: User | None = None,
        *,
        channel_id: int | None = None,
        files: Sequence[FileSpec] = (),
    ) -> Message:
        """A user posts a message (MESSAGE_CREATE, blanked without the message-content intent)."""
        uploads = [
            UploadedFile(i, name, ctype, data) for i, (name, data, ctype) in enumerate(files)
        ]
        author = user or self.alice
        return self.world.create_message(
            self.channel(channel_id), author.id, {"content": content}, uploads
        )

    async def react(self, message_id: int, emoji: str, user: User | None = None) -> None:
        self.world.react(self.message(message_id), emoji, (user or self.alice).id, add=True)

    async def unreact(self, message_id: int, emoji: str, user: User | None = None) -> None:
        self.world.react(self.message(message_id), emoji, (user or self.alice).id, add=False)

    async def delete_message(self, message_id: int) -> None:
        """A moderator deletes a message (MESSAGE_DELETE)."""
        self.world.delete_message(self.message(message_id))

    def _require_connected(self) -> None:
        if not self.connected:
            raise EmulatorError("no bot is connected: await emu.wait_connected() first")

    # -- waiting ------------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the bot, not for us
        *,
        what: str | None = None,
    ) -> T:
        """Re-evaluate `predicate` after every request, frame and change (and every 10 ms, for
        state of an in-process bot); return its truthy value.

        Fails at once when the emulator itself breaks (an `emulator_error` violation).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        broken_before = len(self.violations_of("emulator_error"))
        while True:
            event = self.world.change_event
            result = predicate()
            if result:
                return result
            broken = self.violations_of("emulator_error")[broken_before:]
            if broken:
                raise EmulatorError(f"the emulator failed while waiting:\n{broken[0].message}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise EmulatorTimeoutError(self._timeout_report(what or repr(predicate), timeout))
            # An in-process bot changes its own state without a request: poll that too.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, POLL_INTERVAL))

    def _timeout_report(self, what: str, timeout: float) -> str:
        lines = [f"timed out after {timeout} s waiting for {what}"]
        lines += [f"  violation {v.kind}: {v.message}" for v in self.violations[-5:]]
        lines += [f"  request {r.method} {r.path} -> {r.status}" for r in self.requests[-8:]]
        lines.append(f"  bot connected: {self.connected}")
        return "\n".join(lines)

    async def response_of(self, rec: InteractionRecord, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109
        """The body of the bot's accepted callback to `rec`: `{"type": n, "data": {...}}`."""
        return await self.wait_for(
            lambda: rec.response, timeout, what=f"a reply to {describe(rec)}"
        )

    async def wait_connected(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        await self.wait_for(lambda: self.connected, timeout, what="a gateway connection")

    async def wait_disconnected(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        await self.wait_for(lambda: not self.connected, timeout, what="the bot to disconnect")

    # -- inspection ---------------------------------------------------------------------------

    @property
    def violations(self) -> list[Violation]:
        return self.world.violations

    def violations_of(self, kind: str) -> list[Violation]:
        return [v for v in self.world.violations if v.kind == kind]

    def assert_no_violations(self, *allowed_kinds: str) -> None:
        found = [v for v in self.world.violations if v.kind not in allowed_kinds]
        if found:
            raise AssertionError("\n".join(f"{v.kind}: {v.message}" for v in found))

    @property
    def requests(self) -> list[RequestRecord]:
        return self.world.requests

    def requests_to(self, method: str, path_contains: str) -> list[RequestRecord]:
        return [r for r in self.world.requests if r.method == method and path_contains in r.path]

    @property
    def frames(self) -> list[Frame]:
        return self.world.frames

    @property
    def identifies(self) -> list[JSON]:
        """Every accepted IDENTIFY payload (intents, properties, shard...)."""
        return self.gateway.identifies

    @property
    def interactions(self) -> list[InteractionRecord]:
        return list(self.world.interactions.values())

    def messages(
        self, channel_id: int | None = None, *, include_deleted: bool = False
    ) -> list[Message]:
        """Messages of a channel (default: `channel_id`) in order, ephemeral ones included."""
        ch = self.channel(channel_id)
        return [m for m in self.world.channel_messages(ch.id) if include_deleted or not m.deleted]

    def message(self, message_id: int) -> Message:
        try:
            return self.world.messages[message_id]
        except KeyError:
            raise EmulatorError(f"no message {message_id}") from None

    def attachment_bytes(self, attachment: Attachment | int) -> bytes:
        att_id = attachment.id if isinstance(attachment, Attachment) else attachment
        return self.world.attachments[att_id].data

    def dm_channel(self, user: User) -> Channel | None:
        return next((c for c in self.world.channels.values() if c.recipient_id == user.id), None)

    def dms(self, user: User) -> list[Message]:
        ch = self.dm_channel(user)
        return self.messages(ch.id) if ch is not None else []
