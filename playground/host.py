"""`Playground`: the world, the gateway, the store and the aiohttp server, started and stopped
as one; `start_playground()` is what `mjbot serve` calls when it has no Discord token."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import socket
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from playground.gateway import PRIVILEGED_INTENTS, Gateway
from playground.models import Channel, Guild, User
from playground.server import build_app
from playground.store import Store
from playground.world import World

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081
PRUNE_EVERY = 300.0
"""Seconds between two sweeps of dead interactions (their tokens outlived)."""
KEEP_INTERACTIONS = 3600.0
"""How long an interaction is kept: 4 token lifetimes, so a late modal still finds its form."""

NETWORK_WARNING = """\
*****************************************************************************
The mjbot playground listens on {host}:{port}, which other machines can reach.
It has no login: anyone who opens http://{host}:{port}/ can act as any of its
users and read every message, and can impersonate the bot with the token it
hands out. Bind it to 127.0.0.1 (MJ_PLAYGROUND_HOST) unless you mean this.
*****************************************************************************"""


class Playground:
    """A Discord-compatible server (REST, gateway, CDN) with a web client at `url`.

    With `data_dir` the world lives in that folder (SQLite + files) and a new `Playground` on
    it carries on where the last one stopped; without, it lives in memory (tests).
    """

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        host: str = DEFAULT_HOST,
        port: int = 0,
        token: str | None = None,
        bot_name: str = "mjbot",
        guild_name: str = "mjbot playground",
        channel_names: Sequence[str] = ("general", "art"),
        user_names: Sequence[str] = ("alice", "bob"),
        premium_tier: int = 0,
        ack_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        privileged_intents: int = PRIVILEGED_INTENTS,
        log_limit: int | None = None,
        keep_revisions: bool = True,
    ) -> None:
        self.world = World(
            token=token or secrets.token_urlsafe(32),
            bot_name=bot_name,
            ack_deadline=ack_deadline,
            token_lifetime=token_lifetime,
            log_limit=log_limit,
            keep_revisions=keep_revisions,
        )
        self.store = Store(data_dir) if data_dir is not None else None
        restored = self.store is not None and self.store.restore(self.world)
        if not restored:
            guild = self.world.add_guild(guild_name, premium_tier=premium_tier)
            for name in channel_names:
                self.world.add_channel(guild.id, name)
            for name in user_names:
                self.world.add_member(guild, self.world.add_user(name))
        if self.store is not None:
            self.store.follow(self.world, save_all=not restored)
        self.gateway = Gateway(self.world, privileged_intents=privileged_intents)
        first = next(iter(self.world.guilds.values()))
        self.guild_id = first.id
        self.channel_id = first.channel_ids[0]
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._app: web.Application | None = None
        self._pruner: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> Playground:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as error:
            sock.close()
            if self.store is not None:
                await self.store.close()
            raise OSError(
                error.errno, f"cannot listen on {self.host}:{self.port}: {error.strerror}"
            ) from None
        self.port = sock.getsockname()[1]
        # A wildcard address is not one to connect to: the bot and the page use loopback.
        reach = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # noqa: S104
        shown = f"[{reach}]" if ":" in reach else reach
        self.world.http_base = f"http://{shown}:{self.port}"
        self.world.gateway_url = f"ws://{shown}:{self.port}/gateway"
        for att in self.world.attachments.values():
            att.url = self.world.attachment_url(att)  # the port may differ from the last run
        if self.store is not None:
            await self.store.flush()
            self._pruner = asyncio.create_task(self._prune_forever())
        self._app = build_app(self.world, self.gateway)
        self._runner = web.AppRunner(
            self._app, handle_signals=False, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        await self.gateway.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.store is not None:
            await self.store.close()

    async def flush(self) -> None:
        """Write the world's pending changes to the data folder now (no-op in memory)."""
        if self.store is not None:
            await self.store.flush()

    async def _prune_forever(self) -> None:
        """A playground runs for weeks: interactions whose tokens died go, here and on disk."""
        while True:
            await asyncio.sleep(PRUNE_EVERY)
            old = self.world.forget_interactions(KEEP_INTERACTIONS)
            if self.store is not None and old:
                self.store.forget(old)

    # -- addresses ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The web client: open it in a browser."""
        return f"{self.world.http_base}/"

    @property
    def http_base(self) -> str:
        return self.world.http_base

    @property
    def api_base(self) -> str:
        return f"{self.world.http_base}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.world.gateway_url

    @property
    def token(self) -> str:
        return self.world.token

    @property
    def application_id(self) -> int:
        return self.world.application_id

    @property
    def bot_user(self) -> User:
        return self.world.bot_user

    def bot_env(self) -> dict[str, str]:
        """Environment for a bot process (`mjbot serve`) pointed at this server."""
        return {
            "DISCORD_TOKEN": self.token,
            "DISCORD_API_BASE_URL": self.api_base,
            "DISCORD_GATEWAY_URL": self.gateway_url,
            "DISCORD_GUILD_IDS": str(self.guild_id),
        }

    # -- the world ----------------------------------------------------------------------------

    def guild(self, guild_id: int | None = None) -> Guild:
        return self.world.guilds[guild_id or self.guild_id]

    def channel(self, channel_id: int | None = None) -> Channel:
        return self.world.channel(channel_id or self.channel_id)

    @property
    def connected(self) -> bool:
        """Whether a bot is connected to the gateway (identified or resumed)."""
        return self.gateway.connected


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


async def start_playground(
    data_dir: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> Playground:
    """Open (or create) the playground in `data_dir` and serve it on `host:port` (0: any port).

    Its world persists in `data_dir`; `stop()` it before the process ends. Warns loudly when
    `host` is not a loopback address.
    """
    # Restoring reads the whole world from SQLite: off the event loop.
    playground = await asyncio.to_thread(
        Playground, data_dir=data_dir, host=host, port=port, log_limit=200, keep_revisions=False
    )
    await playground.start()
    if not is_loopback(host):
        log.warning("\n%s", NETWORK_WARNING.format(host=host, port=playground.port))
    log.info("playground serving %s (data in %s)", playground.url, data_dir)
    return playground
