"""Honest waiting messages, image URLs in prompts, and delivery exactly once after a crash."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from PIL import Image

from engine import GenerationRequest, JobCancelledError, WeightedText
from playground import Emulator
from tests.bot.e2e.conftest import BotHarness, imagine, results, wait_result


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_waiting_message_shows_position_and_eta(emu: Emulator, harness: BotHarness) -> None:
    assert harness.bot is not None
    blocker = harness.bot.deps.engine.submit(
        GenerationRequest(prompt=(WeightedText("a long job"),), steps=5000, count=1),
        user_id="someone-else",
    )
    await imagine(emu, "a patient cat")
    waiting = await emu.wait_for(
        lambda: [m for m in emu.messages() if "Position 1 in the queue" in m.content],
        15,
        what="the queue note",
    )
    assert re.search(
        r"\(Waiting to start\)\nPosition 1 in the queue · starts <t:\d+:R>", waiting[0].content
    )
    blocker.cancel()
    with contextlib.suppress(JobCancelledError):
        await blocker.future
    await wait_result(emu, r"a patient cat\*\* - <@\d+> \(fast\)$")


@pytest.mark.bot_settings(mj_fetch_allow_hosts=["placeholder"])
async def test_image_urls_are_fetched_once_and_stored_with_the_job(
    emu: Emulator, harness: BotHarness
) -> None:
    harness.overrides["mj_fetch_allow_hosts"] = [f"127.0.0.1:{emu.port}"]
    await harness.restart()
    url = emu.host_file("/refs/red.png", png_bytes(), "image/png")
    await imagine(emu, f"{url} a red fox --iw 2")
    await wait_result(emu, r"a red fox --iw 2\*\* - <@\d+> \(fast\)$")
    assert emu.hosted("/refs/red.png").hits == 1
    [(parameters,)] = harness.database.rows("SELECT parameters FROM jobs")
    assert '"role": "image"' in parameters
    assert url in parameters


async def test_private_or_bad_links_are_refused_naming_the_url(
    emu: Emulator, harness: BotHarness
) -> None:
    url = emu.host_file("/refs/secret.png", png_bytes(), "image/png")  # 127.0.0.1: private
    record = await imagine(emu, f"{url} a red fox")
    await emu.response_of(record)
    message = await emu.wait_for(
        lambda: (
            record.original_message is not None
            and record.original_message.embeds
            and record.original_message
        ),
        15,
    )
    embed = message.embeds[0]
    assert embed["title"] == "Invalid link"
    assert url in embed["description"]
    assert "private" in embed["description"]
    assert emu.hosted("/refs/secret.png").hits == 0
    assert results(emu, "a red fox") == []


@pytest.mark.allow_violations("unknown_message")  # its waiting message was already deleted
async def test_crash_between_posting_and_recording_delivers_once(
    emu: Emulator, harness: BotHarness
) -> None:
    await imagine(emu, "a lonely lighthouse --seed 4")
    await wait_result(emu, r"a lonely lighthouse --seed 4\*\* - <@\d+> \(fast\)$")
    await harness.stop()
    # As if the process died after Discord accepted the message but before the database
    # recorded it: the job is done and not delivered.
    harness.database.rows("UPDATE jobs SET delivered = false")
    await harness.start()
    await emu.wait_for(
        lambda: harness.database.rows("SELECT delivered FROM jobs") == [(1,)],
        15,
        what="the delivery to be recorded again",
    )
    # Discord's nonce check gave back the first message instead of posting a second one.
    assert len(results(emu, r"a lonely lighthouse --seed 4\*\* - <@\d+> \(fast\)$")) == 1
