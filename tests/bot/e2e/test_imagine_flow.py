"""/imagine → grid → U2 → Upscale (Subtle), V1, 🔄, Zoom Out, Pan: the Midjourney flow."""

from __future__ import annotations

import pytest

from playground import Emulator
from tests.bot.e2e.conftest import (
    BotHarness,
    custom_id,
    image_of,
    imagine,
    labels,
    results,
    wait_result,
)

PROMPT = "a red fox in the snow --ar 16:9 --seed 7"


async def test_imagine_grid_then_buttons(emu: Emulator, harness: BotHarness) -> None:
    alice = emu.alice
    record = await imagine(emu, PROMPT)
    ack = await emu.response_of(record)
    assert ack["type"] == 5  # acknowledged at once (deferred), before any slow work
    grid = await wait_result(emu, rf"^\*\*{PROMPT}\*\* - <@{alice.id}> \(fast\)$")
    assert labels(grid) == [["U1", "U2", "U3", "U4", "🔄"], ["V1", "V2", "V3", "V4"]]
    assert image_of(emu, grid).size == (672, 384)  # 2×2 of 336×192 (16:9 at tiny's 256)
    # the waiting message (edited with progress) goes once the result is posted
    await emu.wait_for(
        lambda: (
            not [m for m in emu.messages() if "Waiting to start" in m.content or "%)" in m.content]
        ),
        what="the waiting message to be removed",
    )
    progress = [m for m in emu.messages(include_deleted=True) if m.deleted]
    assert any("%) (fast)" in r.get("content", "") for m in progress for r in m.revisions)

    # U2: the image alone, with the upscale row, no GPU job
    await emu.click(grid.id, custom_id(grid, "U2"), alice)
    single = await wait_result(emu, rf"Image #2 <@{alice.id}>$")
    assert image_of(emu, single).size == (336, 192)
    assert labels(single)[0] == [
        "Upscale (Subtle)",
        "Upscale (Creative)",
        "Vary (Subtle)",
        "Vary (Strong)",
        "Vary (Region)",
    ]
    assert "Make Square" in labels(single)[1]

    # Upscale (Subtle): exactly twice the size, and no upscale buttons on the result
    await emu.click(single.id, custom_id(single, "Upscale (Subtle)"), alice)
    upscaled = await wait_result(emu, rf"Upscaled \(Subtle\) by <@{alice.id}> \(fast\)$")
    assert image_of(emu, upscaled).size == (672, 384)
    assert "Upscale (Subtle)" not in labels(upscaled)[0]

    # V1 on the grid: a new grid of variations, by whoever pressed it
    bob = emu.bob
    await emu.click(grid.id, custom_id(grid, "V1"), bob)
    variations = await wait_result(emu, rf"Variations \(Strong\) by <@{bob.id}> \(fast\)$")
    assert image_of(emu, variations).size == (672, 384)

    # 🔄: same prompt, new seeds
    await emu.click(grid.id, custom_id(grid, "🔄"), alice)
    reroll = await wait_result(emu, rf"^\*\*{PROMPT}\*\* - <@{alice.id}> \(fast\)$", count=2)
    assert emu.attachment_bytes(reroll.attachments[0]) != emu.attachment_bytes(grid.attachments[0])

    # Zoom Out 2x and Pan ⬅️ from the single image
    await emu.click(single.id, custom_id(single, "Zoom Out 2x"), alice)
    zoomed = await wait_result(emu, rf"Zoom Out by <@{alice.id}> \(fast\)$")
    assert image_of(emu, zoomed).size == (672, 384)  # the same size, more around it
    await emu.click(single.id, custom_id(single, "⬅️"), alice)
    panned = await wait_result(emu, rf"Pan Left by <@{alice.id}> \(fast\)$")
    assert image_of(emu, panned).size == (2 * 512, 2 * 192)  # canvas grew by half its width
    emu.assert_no_violations()


@pytest.mark.parametrize(
    ("prompt", "title"),
    [
        ("a cat --chaos 150", "Invalid parameter"),
        ("a cat --ar16:9", "Invalid parameter"),
        ("https://example.com/a.png", "Invalid prompt"),
    ],
)
async def test_bad_prompt_gets_a_red_ephemeral_embed_and_queues_nothing(
    emu: Emulator, harness: BotHarness, prompt: str, title: str
) -> None:
    record = await imagine(emu, prompt)
    reply = await emu.response_of(record)
    assert reply["type"] == 4
    assert reply["data"]["flags"] & 64  # ephemeral
    [embed] = reply["data"]["embeds"]
    assert embed["title"] == title
    assert embed["color"] == 0xFF0000
    assert "```" in embed["description"]
    assert "^" in embed["description"]
    await emu.wait_for(lambda: True)
    assert results(emu, ".") == []
    assert not [m for m in emu.messages() if not m.ephemeral]
