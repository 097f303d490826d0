"""Style transfer end to end: ``/transfer`` with uploads and links, the 🎨 button and its
form, the result and its buttons, refusals, a broken link, and ❌ while it waits."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.jobs.references import SAME_IMAGES
from playground import Emulator
from playground.models import InteractionRecord, Message
from tests.bot.e2e.conftest import (
    BotDatabase,
    BotHarness,
    custom_id,
    image_of,
    imagine,
    labels,
    marked_png,
    wait_result,
)
from tests.bot.e2e.test_controls import (
    LONG,
    ephemeral_reply,
    free_the_gpu,
    occupy_the_gpu,
    stopped,
    waiting_message,
)

STEPS = 3
"""Optimiser steps of every transfer here (seconds on the CPU at 64–128 px)."""
FAST = {"mj_transfer_steps": STEPS}
DONE = r" - Style Transfer by <@\d+> \(fast\)$"


def png(colour: tuple[int, int, int], size: tuple[int, int] = (128, 64)) -> bytes:
    return marked_png(colour, size)


def jobs(harness: BotHarness) -> list[dict[str, Any]]:
    rows = harness.database.rows(
        "SELECT kind, status, prompt, error, parameters FROM jobs ORDER BY queued_at"
    )
    return [
        {"kind": k, "status": s, "prompt": p, "error": e, "parameters": json.loads(params)}
        for k, s, p, e, params in rows
    ]


@pytest.fixture
async def linked(
    emu: Emulator, database: BotDatabase, tmp_path: Path, shared_models: Path
) -> AsyncIterator[BotHarness]:
    """A bot that may fetch from the emulator's own (loopback) file host."""
    bot = BotHarness(
        emu,
        database,
        tmp_path / "data",
        shared_models,
        mj_fetch_allow_hosts=[f"127.0.0.1:{emu.port}"],
        **FAST,
    )
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()
    emu.assert_no_violations()


async def transfer(emu: Emulator, **given: Any) -> InteractionRecord:
    """``/transfer`` with options, and ``(name, bytes, type)`` uploads for content/style."""
    uploads = {k: v for k, v in given.items() if isinstance(v, tuple)}
    options = {k: v for k, v in given.items() if not isinstance(v, tuple)}
    return await emu.slash("transfer", emu.alice, options=options, attachments=uploads)


async def refusal(emu: Emulator, record: InteractionRecord) -> tuple[str, str]:
    embed = (await ephemeral_reply(emu, record)).embeds[0]
    return embed["title"], embed["description"]


def flat(message: Message) -> list[str]:
    return [label for row in labels(message) for label in row]


@pytest.mark.bot_settings(**FAST)
async def test_transfer_uploads_gives_one_image_with_the_single_image_row(
    emu: Emulator, harness: BotHarness
) -> None:
    record = await transfer(
        emu,
        content=("harbour.png", png((200, 120, 30)), "image/png"),
        style=("waves.png", png((20, 60, 220), (64, 64)), "image/png"),
        strength=400,
        size=96,
        preserve_colors=True,
    )
    result = await wait_result(emu, DONE)
    assert (
        result.content
        == f"**harbour.png + waves.png** - Style Transfer by <@{emu.alice.id}> (fast)"
    )
    assert image_of(emu, result).size == (96, 48)
    assert labels(result)[0] == [
        "Upscale (Subtle)",
        "Upscale (Creative)",
        "Vary (Subtle)",
        "Vary (Strong)",
        "Vary (Region)",
    ]
    assert flat(result)[-1] == "Style Transfer"
    assert (await emu.response_of(record))["type"] == 5  # thinking…, then deleted
    [job] = jobs(harness)
    assert (job["kind"], job["status"]) == ("transfer", "done")
    work = job["parameters"]["spec"]["transfer"]
    assert (work["strength"], work["size"], work["preserve_colors"], work["steps"]) == (
        400,
        96,
        True,
        STEPS,
    )
    assert work["content"]["path"] != work["style"]["path"]  # both stored
    assert job["parameters"]["effective"]["operation"] == "transfer"

    # It is a single image like any other: Upscale (Subtle) doubles it.
    await emu.click(result.id, custom_id(result, "Upscale (Subtle)"), emu.alice)
    upscaled = await wait_result(emu, r"Upscaled \(Subtle\) by <@\d+> \(fast\)$")
    assert image_of(emu, upscaled).size == (192, 96)
    assert "Upscale (Subtle)" not in flat(upscaled)
    assert "Style Transfer" in flat(upscaled)


async def test_transfer_links_and_a_broken_link(emu: Emulator, linked: BotHarness) -> None:
    content = emu.host_file("/t/content.png", png((90, 160, 40), (64, 96)), "image/png")
    style = emu.host_file("/t/style.png", png((240, 200, 10), (80, 80)), "image/png")
    await transfer(emu, content_url=content, style_url=style)
    result = await wait_result(emu, DONE)
    assert result.content.startswith(f"**{content} + {style}** - Style Transfer by")
    assert image_of(emu, result).size == (64, 96)  # the content's size

    missing = content.replace("content.png", "missing.png")
    broken = await transfer(emu, content_url=content, style_url=missing)
    assert await refusal(emu, broken) == (
        "Invalid link",
        f"Could not use {missing}: the server answered 404",
    )
    failed = jobs(linked)[-1]
    assert (failed["kind"], failed["status"]) == ("transfer", "failed")
    assert failed["error"] == f"Could not use {missing}: the server answered 404"
    assert len([m for m in emu.messages() if re.search(DONE, m.content)]) == 1
    assert emu.hosted("/t/content.png").hits == 2


async def test_transfer_button_opens_a_form_prefilled_with_the_sref(
    emu: Emulator, linked: BotHarness
) -> None:
    style = emu.host_file("/t/sref.png", png((10, 200, 200), (64, 64)), "image/png")
    await imagine(emu, f"a quiet harbour --sref {style} --seed 2")
    grid = await wait_result(emu, r"a quiet harbour .*\*\* - <@\d+> \(fast\)$")
    await emu.click(grid.id, custom_id(grid, "U1"), emu.alice)
    single = await wait_result(emu, r"Image #1 <@")
    assert flat(single)[-1] == "Style Transfer"

    opened = await emu.click(single.id, custom_id(single, "Style Transfer"), emu.alice)
    modal = await emu.response_of(opened)
    assert (modal["type"], modal["data"]["title"]) == (9, "Style Transfer")
    fields = [row["components"][0] for row in modal["data"]["components"]]
    assert [(f["custom_id"], f.get("value")) for f in fields] == [
        ("style", style),
        ("strength", "100"),
    ]
    # Out of range: refused, nothing queued.
    submitted = await emu.submit_modal(opened, {"style": style, "strength": "1500"}, emu.alice)
    assert await refusal(emu, submitted) == (
        "Invalid parameter",
        "strength must be 0–1000 (got 1500).",
    )
    assert [j["kind"] for j in jobs(linked)] == ["imagine"]

    again = await emu.click(single.id, custom_id(single, "Style Transfer"), emu.alice)
    await emu.response_of(again)
    await emu.submit_modal(again, {"style": style, "strength": "250"}, emu.alice)
    result = await wait_result(emu, DONE)
    assert result.content.endswith(f" + {style}** - Style Transfer by <@{emu.alice.id}> (fast)")
    assert result.content.startswith("**a quiet harbour --sr…")  # shortened in the middle
    assert image_of(emu, result).size == image_of(emu, single).size
    job = jobs(linked)[-1]
    work = job["parameters"]["spec"]["transfer"]
    assert (job["kind"], work["strength"], work["content"]["index"]) == ("transfer", 250, 0)
    assert emu.hosted("/t/sref.png").hits == 1  # the job's stored --sref image, reused


@pytest.mark.bot_settings(**FAST)
async def test_transfer_refuses_bad_inputs_by_name(emu: Emulator, harness: BotHarness) -> None:
    picture = ("a.png", png((1, 2, 3)), "image/png")
    text = await transfer(emu, content=("notes.txt", b"hello", "text/plain"), style=picture)
    assert await refusal(emu, text) == (
        "Invalid image",
        "content: notes.txt is not an image (PNG, JPEG, WebP or GIF).",
    )
    none = await transfer(emu, content=picture)
    assert await refusal(emu, none) == (
        "Invalid parameter",
        "Give /transfer one style image: attach it (style) or link it (style_url).",
    )
    both = await transfer(emu, content=picture, style=picture, style_url="https://e.x/s.png")
    assert (await refusal(emu, both))[0] == "Invalid parameter"
    not_link = await transfer(emu, content=picture, style_url="style.png")
    assert await refusal(emu, not_link) == ("Invalid link", "style_url is not a link: 'style.png'")
    assert jobs(harness) == []  # nothing was queued

    # The same picture under two names is found once both are read: the job fails.
    same = await transfer(emu, content=picture, style=("b.png", picture[1], "image/png"))
    assert await refusal(emu, same) == ("Identical images", SAME_IMAGES)
    assert [(j["kind"], j["status"]) for j in jobs(harness)] == [("transfer", "failed")]
    assert not [m for m in emu.messages() if re.search(DONE, m.content)]


@pytest.mark.bot_settings(mj_transfer_steps=LONG, mj_max_active_jobs=1, mj_max_queued_jobs=0)
async def test_transfer_cancelled_with_x_while_it_waits(emu: Emulator, harness: BotHarness) -> None:
    blocker = occupy_the_gpu(harness)
    try:
        await transfer(
            emu,
            content=("c.png", png((50, 60, 70)), "image/png"),
            style=("s.png", png((200, 10, 10)), "image/png"),
        )
        waiting = await waiting_message(emu, harness, "c.png + s.png")
        # A second one does not fit the user's queue: refused, with no /imagine to retry.
        full = await transfer(
            emu,
            content=("d.png", png((60, 60, 70)), "image/png"),
            style=("s.png", png((200, 10, 10)), "image/png"),
        )
        embed = (await ephemeral_reply(emu, full)).embeds[0]
        assert embed["title"] == "Queue full"
        assert "footer" not in embed, embed
        await emu.click(waiting.id, custom_id(waiting, "❌"), emu.alice)
        final = await stopped(emu, waiting)
    finally:
        await free_the_gpu(blocker)
    assert final.content == f"**c.png + s.png** - Style Transfer by <@{emu.alice.id}> (Stopped)"
    assert [(j["kind"], j["status"]) for j in jobs(harness)] == [("transfer", "cancelled")]
