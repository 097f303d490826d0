"""Exactly one result message, even when the process died after Discord stored the result
but before the bot recorded it — and the restart came after Discord's nonce window."""

from __future__ import annotations

import pytest

from playground import Emulator
from tests.bot.e2e.conftest import BotHarness, imagine, results, wait_result

PATTERN = r"a paper boat --seed 4\*\* - <@\d+> \(fast\)$"


# The waiting message is deleted again after the restart (the crash may have come before its
# deletion): here it was already gone, which Discord answers 404.
@pytest.mark.allow_violations("unknown_message")
async def test_a_result_posted_before_a_crash_is_not_posted_again(
    emu: Emulator, harness: BotHarness
) -> None:
    await imagine(emu, "a paper boat --seed 4")
    posted = await wait_result(emu, PATTERN)
    await harness.stop()
    await emu.wait_disconnected()
    # What a crash between Discord's reply and the bot's commit leaves: a done job that the
    # database says was never delivered. Discord's nonce memory is gone by the restart.
    harness.database.rows("UPDATE jobs SET delivered = false, result_message_id = NULL")
    emu.world.nonces.clear()
    await harness.start()

    def recorded() -> list[tuple[int, int | None]]:
        return harness.database.rows("SELECT delivered, result_message_id FROM jobs")

    await emu.wait_for(lambda: recorded() == [(1, posted.id)], 60, what="delivery recorded")
    assert len(results(emu, PATTERN)) == 1
