"""Routing through Discord: a button whose action this version does not know (from an older
or newer release) is answered "no longer works" and starts nothing; an unexpected failure
shows an incident id and never a traceback."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from bot.ui.routing import BUTTON_GONE
from db.models import Job
from playground import Emulator
from tests.bot.e2e.conftest import BotHarness, custom_id, imagine, wait_result


async def _jobs(harness: BotHarness) -> int:
    assert harness.bot is not None
    async with harness.bot.deps.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(Job))).scalar_one())


async def test_a_button_with_an_unknown_action_starts_nothing(
    emu: Emulator, harness: BotHarness
) -> None:
    await imagine(emu, "an old lighthouse --seed 3")
    grid = await wait_result(emu, r"an old lighthouse --seed 3\*\* - <@\d+> \(fast\)$")
    # The message as a release with a "retired" button posted it: its V1 now means nothing.
    old = custom_id(grid, "V1")
    retired = old.replace("mj:v:", "mj:retired_action:")
    for row in grid.components:
        for component in row["components"]:
            if component.get("custom_id") == old:
                component["custom_id"] = retired
    before = await _jobs(harness)
    pressed = await emu.click(grid.id, retired, emu.bob)
    answer = await emu.response_of(pressed)
    assert answer["type"] == 4  # a message, not a deferred update that would start work
    assert answer["data"]["content"] == BUTTON_GONE
    assert answer["data"]["flags"] & 64  # only for the presser
    assert await _jobs(harness) == before
    assert not [m for m in emu.messages() if "(Waiting to start)" in m.content]


@pytest.mark.allow_tracebacks  # the incident is logged with its traceback, on purpose
async def test_an_unexpected_failure_shows_an_incident_id(
    emu: Emulator,
    harness: BotHarness,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert harness.bot is not None
    runner = harness.bot.deps.runner

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(runner, "admit", broken)
    caplog.set_level(logging.ERROR, logger="bot.errors")
    answer = await emu.response_of(await imagine(emu, "a quiet harbour"))
    [embed] = answer["data"]["embeds"]
    assert embed["title"] == "Internal error"
    code = embed["description"].split("`")[1]
    assert len(code) == 8
    assert "Traceback" not in str(answer)
    [record] = [r for r in caplog.records if code in r.getMessage()]
    assert record.exc_info is not None
    assert "imagine" in record.getMessage()
