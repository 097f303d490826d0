"""Limits, restarts, seeds, upload limits, moderation, permutations and modals, end to end."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

import pytest

from engine import GenerationRequest, JobCancelledError, JobHandle, WeightedText
from playground import Emulator
from tests.bot.e2e.conftest import (
    BotHarness,
    custom_id,
    image_of,
    imagine,
    results,
    wait_result,
)


def occupy_the_gpu(harness: BotHarness) -> JobHandle:
    """Keep the engine's only worker busy with someone else's long job."""
    assert harness.bot is not None
    return harness.bot.deps.engine.submit(
        GenerationRequest(prompt=(WeightedText("a long job"),), steps=5000, count=1),
        user_id="someone-else",
    )


@pytest.mark.bot_settings(mj_max_active_jobs=3, mj_max_queued_jobs=10)
async def test_limits_with_16_rapid_submissions(emu: Emulator, harness: BotHarness) -> None:
    blocker = occupy_the_gpu(harness)
    records = await asyncio.gather(*(imagine(emu, f"a lighthouse number {i}") for i in range(16)))
    replies = await asyncio.gather(*(_final_reply(emu, r) for r in records))
    titles = [r for r in replies if r]
    assert titles.count("Queue full") == 3
    assert titles.count("Job queued") == 10
    waiting = [m for m in emu.messages() if "(Waiting to start)" in m.content]
    assert len(waiting) == 13
    blocker.cancel()
    with contextlib.suppress(JobCancelledError):
        await blocker.future
    final = r"a lighthouse number \d+\*\* - <@\d+> \(fast\)$"
    await wait_result(emu, final, count=13, timeout=240)
    await emu.wait_for(
        lambda: not [m for m in emu.messages() if "%)" in m.content or "Waiting" in m.content]
    )
    assert len(results(emu, final)) == 13  # and nothing twice


async def _final_reply(emu: Emulator, record: object) -> str | None:
    """The embed title the user was finally shown, or None when the reply was removed."""
    from playground.models import InteractionRecord

    assert isinstance(record, InteractionRecord)
    await emu.response_of(record, timeout=30)

    def settled() -> tuple[str | None] | None:
        message = record.original_message
        if message is None or message.deleted:
            return (None,)
        if message.embeds:
            return (message.embeds[0]["title"],)
        return None

    return (await emu.wait_for(settled, 30))[0]


async def test_restart_between_grid_and_button(emu: Emulator, harness: BotHarness) -> None:
    await imagine(emu, "a castle on a hill --seed 3")
    grid = await wait_result(emu, r"a castle on a hill --seed 3\*\* - <@\d+> \(fast\)$")
    await harness.restart()  # a new bot object and process state; the world persists
    await emu.click(grid.id, custom_id(grid, "V3"), emu.alice)
    await wait_result(emu, r"Variations \(Strong\) by")
    await emu.click(grid.id, custom_id(grid, "U4"), emu.alice)
    await wait_result(emu, r"Image #4 <@")


async def test_same_seed_reproduces_the_grid(emu: Emulator, harness: BotHarness) -> None:
    await imagine(emu, "a quiet harbour --seed 42")
    await imagine(emu, "a quiet harbour --seed 42")
    first = await wait_result(emu, r"a quiet harbour --seed 42\*\*", count=1)
    second = await wait_result(emu, r"a quiet harbour --seed 42\*\*", count=2)
    assert emu.attachment_bytes(first.attachments[0]) == emu.attachment_bytes(second.attachments[0])


async def test_upload_over_the_limit_falls_back_to_a_smaller_format(
    emu: Emulator, harness: BotHarness
) -> None:
    emu.set_upload_limit(150_000)
    await imagine(emu, "a stormy sea --seed 5")
    grid = await wait_result(emu, r"a stormy sea --seed 5\*\*")
    attachment = grid.attachments[0]
    assert attachment.size <= 150_000
    assert attachment.filename.endswith((".webp", ".jpg"))
    assert image_of(emu, grid).size == (512, 512)
    emu.assert_no_violations()


@pytest.mark.bot_settings(mj_banned_words_file=None)
async def test_banned_prompt_is_refused(emu: Emulator, tmp_path: Path, harness: BotHarness) -> None:
    words = tmp_path / "banned.txt"
    words.write_text("gore\n", encoding="utf-8")
    harness.overrides["mj_banned_words_file"] = words
    await harness.restart()
    record = await imagine(emu, "a G O R E scene")
    reply = await emu.response_of(record)
    assert reply["data"]["embeds"][0]["title"] == "Banned prompt detected"
    assert reply["data"]["flags"] & 64


async def test_permutations_over_four_ask_first(emu: Emulator, harness: BotHarness) -> None:
    record = await imagine(emu, "a {red, green, blue} {car, bike} --seed 1")
    reply = await emu.response_of(record)
    assert "6 jobs" in reply["data"]["content"]
    yes = next(
        c for row in reply["data"]["components"] for c in row["components"] if c["label"] == "Yes"
    )
    assert record.original_message is not None
    await emu.click(record.original_message.id, yes["custom_id"], emu.alice)
    await wait_result(emu, r"\*\* - <@\d+> \(fast\)$", count=6, timeout=120)
    texts = {m.content.split("**")[1] for m in results(emu, r"\(fast\)$")}
    assert "a green bike --seed 1" in texts


async def test_vary_region_links_the_editor_and_custom_zoom_opens_a_modal(
    emu: Emulator, harness: BotHarness
) -> None:
    await imagine(emu, "a tall tower --seed 9")
    grid = await wait_result(emu, r"a tall tower --seed 9\*\* - ")
    await emu.click(grid.id, custom_id(grid, "U1"), emu.alice)
    single = await wait_result(emu, r"Image #1 <@")
    region = await emu.click(single.id, custom_id(single, "Vary (Region)"), emu.alice)
    answer = await emu.response_of(region)
    assert answer["data"]["flags"] & 64
    assert answer["data"]["components"][0]["components"][0]["url"].startswith("http://")
    zoom = await emu.click(single.id, custom_id(single, "Custom Zoom"), emu.alice)
    modal = await emu.response_of(zoom)
    assert modal["type"] == 9
    field = modal["data"]["components"][0]["components"][0]
    assert field["value"].endswith("--zoom 2")
    await emu.submit_modal(
        zoom, {field["custom_id"]: "a tall tower --seed 9 --zoom 1.5 --ar 2:1"}, emu.alice
    )
    zoomed = await wait_result(emu, r"Zoom Out by <@")
    assert "--zoom" not in zoomed.content
    width, height = image_of(emu, zoomed).size
    assert width > height  # the new --ar 2:1 canvas
    bad = await emu.click(single.id, custom_id(single, "Custom Zoom"), emu.alice)
    await emu.response_of(bad)
    refused = await emu.submit_modal(bad, {field["custom_id"]: "a tower --zoom 3"}, emu.alice)
    answer = await emu.response_of(refused)
    assert answer["data"]["embeds"][0]["title"] == "Invalid parameter"
    assert re.search(r"--zoom must be between 1 and 2", answer["data"]["embeds"][0]["description"])
