"""The `emu` fixture: a fresh emulator per test, with discord.py pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from playground import Emulator
from tests.playground.wiring import point_discord_at


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        with point_discord_at(emulator):
            yield emulator
