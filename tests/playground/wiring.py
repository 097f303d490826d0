"""Point an in-process discord.py at an emulator (the two class attributes of the protocol doc)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import discord.gateway
import discord.http
import yarl

from playground.driver import Emulator


@contextlib.contextmanager
def point_discord_at(emu: Emulator) -> Iterator[None]:
    """Set `Route.BASE` and `DEFAULT_GATEWAY` for the block; they are process-global."""
    route, websocket = discord.http.Route, discord.gateway.DiscordWebSocket
    saved = route.BASE, websocket.DEFAULT_GATEWAY
    route.BASE = emu.api_base
    websocket.DEFAULT_GATEWAY = yarl.URL(emu.gateway_url)
    try:
        yield
    finally:
        route.BASE, websocket.DEFAULT_GATEWAY = saved
