"""The `emu` fixture: a fresh emulator per test, with discord.py pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.discord_emulator import Emulator, point_discord_at


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        with point_discord_at(emulator):
            yield emulator
