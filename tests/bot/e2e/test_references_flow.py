"""Reference images end to end: image prompts, --sref, --cref, /blend and /describe."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

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
    results,
    wait_result,
)

NUMBERS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣")


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    return marked_png(colour, size)


def jobs(harness: BotHarness) -> list[dict[str, Any]]:
    rows = harness.database.rows("SELECT kind, prompt, parameters FROM jobs ORDER BY queued_at")
    return [{"kind": k, "prompt": p, "parameters": json.loads(params)} for k, p, params in rows]


def used_references(harness: BotHarness, prompt_part: str) -> list[dict[str, Any]]:
    """What the engine reported using, for each finished job whose prompt has the text."""
    return [
        j["parameters"]["effective"]["references"]
        for j in jobs(harness)
        if prompt_part in j["prompt"] and "effective" in j["parameters"]
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
    )
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()
    emu.assert_no_violations()


async def test_image_style_and_character_references(emu: Emulator, linked: BotHarness) -> None:
    image = emu.host_file("/refs/image.png", png((200, 30, 30)), "image/png")
    style = emu.host_file("/refs/style.png", png((30, 200, 30)), "image/png")
    face = emu.host_file("/refs/face.png", png((30, 30, 200)), "image/png")
    await imagine(emu, f"{image} a cat --iw 2")
    await imagine(emu, f"a dog --sref {style} --sw 500")
    await imagine(emu, f"a bird --cref {face} --cw 0")
    grid = await wait_result(emu, r"a cat --iw 2\*\* - <@\d+> \(fast\)$")
    await wait_result(emu, r"a dog --sref \S+ --sw 500\*\* - <@\d+> \(fast\)$")
    await wait_result(emu, r"a bird --cref \S+ --cw 0\*\* - <@\d+> \(fast\)$")
    assert used_references(linked, "a cat") == [
        {"images": 1, "styles": 0, "characters": 0, "iw": 2.0, "sw": 100, "cw": 100}
    ]
    assert used_references(linked, "a dog")[0]["styles"] == 1
    assert used_references(linked, "a dog")[0]["sw"] == 500
    assert used_references(linked, "a bird")[0]["characters"] == 1
    assert used_references(linked, "a bird")[0]["cw"] == 0
    # After a restart, a variation still uses the stored reference: nothing is downloaded again.
    await linked.restart()
    await emu.click(grid.id, custom_id(grid, "V1"), emu.alice)
    await wait_result(emu, r"a cat --iw 2\*\* - Variations \(Strong\) by <@\d+> \(fast\)$")
    assert [r["images"] for r in used_references(linked, "a cat")] == [1, 1]
    for path in ("/refs/image.png", "/refs/style.png", "/refs/face.png"):
        assert emu.hosted(path).hits == 1


async def test_sref_random_becomes_a_code_that_rerolls_keep(
    emu: Emulator, harness: BotHarness
) -> None:
    await imagine(emu, "a lighthouse --sref random")
    grid = await wait_result(emu, r"a lighthouse --sref \d+\*\* - <@\d+> \(fast\)$")
    code = re.search(r"--sref (\d+)", grid.content)
    assert code is not None
    await emu.click(grid.id, custom_id(grid, "🔄"), emu.alice)
    await wait_result(emu, rf"a lighthouse --sref {code[1]}\*\* - <@\d+> \(fast\)$", count=2)
    specs = [j["parameters"]["spec"] for j in jobs(harness)]
    assert [s["references"] for s in specs] == [
        [{"role": "sref", "weight": 1.0, "code": int(code[1])}]
    ] * 2
    assert [j["kind"] for j in jobs(harness)] == ["imagine", "reroll"]


async def test_blend_three_images_and_refuse_duplicates(emu: Emulator, harness: BotHarness) -> None:
    files = {
        f"image{n}": (f"photo{n}.png", png(colour), "image/png")
        for n, colour in enumerate([(250, 0, 0), (0, 250, 0), (0, 0, 250)], 1)
    }
    record = await emu.slash(
        "blend", emu.alice, options={"dimensions": "--ar 3:2"}, attachments=files
    )
    result = await wait_result(emu, r"^\*\*(<\S+> ){3}--ar 3:2\*\* - <@\d+> \(fast\)$")
    width, height = image_of(emu, result).size
    assert width > height
    assert jobs(harness)[0]["kind"] == "blend"
    assert used_references(harness, "--ar 3:2")[0]["images"] == 3
    assert (await emu.response_of(record))["type"] == 5

    same = ("same.png", png((9, 9, 9)), "image/png")
    duplicate = await emu.slash("blend", emu.alice, attachments={"image1": same, "image2": same})
    message = await _answer(emu, duplicate)
    assert message.embeds[0]["title"] == "Duplicate images detected"


async def test_describe_an_upload_and_a_link_then_imagine(
    emu: Emulator, linked: BotHarness
) -> None:
    upload = await emu.slash(
        "describe",
        emu.alice,
        attachments={"image": ("wide.png", png((120, 80, 40), (320, 180)), "image/png")},
    )
    described = await _answer(emu, upload)
    prompts = _prompts(described)
    assert len(set(prompts)) == 4
    assert all(p.endswith(" --ar 16:9") for p in prompts)
    assert labels(described) == [[*NUMBERS, "🔄"], ["Imagine all"]]
    assert described.embeds[0]["image"]["url"].startswith("attachment://")

    url = emu.host_file("/refs/square.png", png((10, 120, 200), (200, 200)), "image/png")
    linked_record = await emu.slash("describe", emu.alice, options={"link": url})
    from_link = await _answer(emu, linked_record)
    assert all(p.endswith(" --ar 1:1") for p in _prompts(from_link))

    # 2️⃣ opens the /imagine modal with prompt 2; submitting it makes a grid.
    pick = await emu.click(described.id, custom_id(described, "2️⃣"), emu.bob)
    modal = await emu.response_of(pick)
    assert modal["type"] == 9
    field = modal["data"]["components"][0]["components"][0]
    assert field["value"] == prompts[1]
    await emu.submit_modal(pick, {field["custom_id"]: field["value"] + " --seed 3"}, emu.bob)
    grid = await wait_result(emu, rf"--seed 3\*\* - <@{emu.bob.id}> \(fast\)$")
    assert labels(grid)[0] == ["U1", "U2", "U3", "U4", "🔄"]

    # 🔄 describes the same image again: a new message with new candidates.
    again = await emu.click(described.id, custom_id(described, "🔄"), emu.alice)
    second = await _answer(emu, again)
    assert second.id != described.id
    assert _prompts(second) != prompts
    assert all(p.endswith(" --ar 16:9") for p in _prompts(second))

    # 🎉 Imagine all: four jobs, one per prompt.
    await emu.click(from_link.id, custom_id(from_link, "Imagine all"), emu.alice)
    await wait_result(emu, rf"--ar 1:1\*\* - <@{emu.alice.id}> \(fast\)$", count=4, timeout=120)
    kinds = [j["kind"] for j in jobs(linked)]
    assert kinds.count("describe") == 3
    assert emu.hosted("/refs/square.png").hits == 1


async def test_describe_needs_exactly_one_image(emu: Emulator, harness: BotHarness) -> None:
    record = await emu.slash("describe", emu.alice)
    answer = await emu.response_of(record)
    assert answer["data"]["flags"] & 64
    assert answer["data"]["embeds"][0]["title"] == "Invalid parameter"
    bad = await emu.slash("describe", emu.alice, options={"link": "not a link"})
    message = await _answer(emu, bad)
    assert message.embeds[0]["title"] == "Invalid link"
    assert results(emu, ".") == []


async def _answer(emu: Emulator, record: InteractionRecord) -> Message:
    """The deferred answer once it has been edited into its final form."""
    await emu.response_of(record)
    return await emu.wait_for(
        lambda: (
            record.original_message is not None
            and record.original_message.embeds
            and record.original_message
        ),
        60,
        what="the answer",
    )


def _prompts(message: Message) -> list[str]:
    lines = message.embeds[0]["description"].split("\n\n")
    assert [line.split(" ", 1)[0] for line in lines] == list(NUMBERS)
    return [line.split(" ", 1)[1] for line in lines]


async def test_forms_opened_before_a_restart_still_work(emu: Emulator, harness: BotHarness) -> None:
    record = await emu.slash(
        "describe",
        emu.alice,
        attachments={"image": ("tall.png", png((90, 60, 30), (180, 320)), "image/png")},
    )
    described = await _answer(emu, record)
    await imagine(emu, "a quiet harbour --seed 2")
    grid = await wait_result(emu, r"a quiet harbour --seed 2\*\* - ")
    await emu.click(grid.id, custom_id(grid, "U1"), emu.alice)
    single = await wait_result(emu, r"Image #1 <@")
    pick = await emu.click(described.id, custom_id(described, "3️⃣"), emu.alice)
    zoom = await emu.click(single.id, custom_id(single, "Custom Zoom"), emu.alice)
    forms = [await emu.response_of(pick), await emu.response_of(zoom)]
    fields = [form["data"]["components"][0]["components"][0] for form in forms]
    await harness.restart()  # the forms are still open in Discord
    await emu.submit_modal(pick, {fields[0]["custom_id"]: fields[0]["value"] + " --seed 5"})
    await emu.submit_modal(zoom, {fields[1]["custom_id"]: "a quiet harbour --zoom 1.5"})
    await wait_result(emu, r"--seed 5\*\* - <@\d+> \(fast\)$")
    await wait_result(emu, r"a quiet harbour\*\* - Zoom Out by <@\d+> \(fast\)$")
