"""Retexture and Change Background end to end: the commands with uploads (a 2×2 grid at the
image's size, U/V as usual, the structure or subject recorded), the buttons under a single
image and their forms, and refusals by name."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from playground import Emulator
from tests.bot.e2e.conftest import BotHarness, custom_id, image_of, imagine, labels, wait_result
from tests.bot.e2e.test_controls import ephemeral_reply

RETEXTURED = r" - Retexture by <@\d+> \(fast\)$"
BACKGROUND = r" - Change Background by <@\d+> \(fast\)$"
NETS = {"mj_controlnets": {"edges": "builtin:tiny"}, "mj_steps": 4}


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def drawing() -> Image.Image:
    image = Image.new("RGB", (160, 128), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 50, 90, 115), outline="black", width=4)
    draw.ellipse((105, 10, 150, 55), outline="black", width=4)
    return image


def product() -> tuple[Image.Image, Image.Image]:
    rng = np.random.default_rng(1)
    image = Image.new("RGB", (160, 128), (210, 210, 215))
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).ellipse((50, 25, 110, 110), fill=255)
    texture = Image.fromarray(rng.integers(0, 255, (128, 160, 3), dtype=np.uint8))
    image.paste(texture, (0, 0), mask)
    return image, mask


def jobs(harness: BotHarness) -> list[dict[str, Any]]:
    rows = harness.database.rows(
        "SELECT id, kind, status, error, parameters FROM jobs ORDER BY queued_at"
    )
    return [
        {"id": i, "kind": k, "status": s, "error": e, "parameters": json.loads(p)}
        for i, k, s, e, p in rows
    ]


def cells(grid: Image.Image) -> list[Image.Image]:
    w, h = grid.width // 2, grid.height // 2
    return [grid.crop((x, y, x + w, y + h)) for y in (0, h) for x in (0, w)]


@pytest.mark.bot_settings(**NETS)
async def test_retexture_and_background_commands(emu: Emulator, harness: BotHarness) -> None:
    upload = {"image": ("house.png", png(drawing()), "image/png")}
    options = {"prompt": "a stained glass window --seed 5", "structure": "edges", "strength": 80}
    await emu.slash("retexture", emu.alice, options=options, attachments=upload)
    grid = await wait_result(emu, RETEXTURED)
    assert grid.content.startswith("**a stained glass window --seed 5**")
    assert image_of(emu, grid).size == (2 * 160, 2 * 128)  # cells at the image's size
    assert labels(grid) == [["U1", "U2", "U3", "U4", "🔄"], ["V1", "V2", "V3", "V4"]]
    [job] = jobs(harness)
    work = job["parameters"]["spec"]["retexture"]
    assert (job["kind"], work["structure"], work["strength"]) == ("retexture", "edges", 80)
    effective = job["parameters"]["effective"]["structure"]
    assert (effective["controlnet"], effective["scale"]) == ("builtin:tiny", 1.03)
    await emu.react(grid.id, "✉️", emu.alice)
    dm = (await emu.wait_for(lambda: emu.dms(emu.alice), 30, what="the ✉️ DM"))[0]
    assert (
        "**Structure**: edges (strength 80) via ControlNet builtin:tiny, scale 1.03, "
        "for 89% of the steps"
    ) in dm.content.splitlines()

    source, mask = product()
    uploads = {
        "image": ("bottle.png", png(source), "image/png"),
        "mask": ("bottle-mask.png", png(mask.convert("RGB")), "image/png"),
    }
    await emu.slash(
        "background", emu.alice, options={"prompt": "a sunny beach"}, attachments=uploads
    )
    changed = await wait_result(emu, BACKGROUND)
    seam = jobs(harness)[-1]["parameters"]["effective"]["structure"]["seam_px"]
    inner = np.asarray(mask.filter(ImageFilter.MinFilter(4 * seam + 1))) > 127
    original = np.asarray(source)
    for cell in cells(image_of(emu, changed)):
        pixels = np.asarray(cell.convert("RGB"))
        assert cell.size == source.size
        assert int((pixels[inner] != original[inner]).any(axis=-1).sum()) == 0
        assert np.abs(pixels[~inner].astype(int) - original[~inner]).mean() > 5


@pytest.mark.bot_settings(**NETS, mj_segmenter="builtin:tiny")
async def test_buttons_under_a_single_image_open_their_forms(
    emu: Emulator, harness: BotHarness
) -> None:
    await imagine(emu, "a lighthouse --seed 2")
    grid = await wait_result(emu, r"a lighthouse --seed 2\*\* - <@\d+> \(fast\)$")
    await emu.click(grid.id, custom_id(grid, "U1"), emu.alice)
    single = await wait_result(emu, r"Image #1 <@")
    assert labels(single)[3] == [
        "Vary (Reference)",
        "Retexture",
        "Change Background",
        "Style Transfer",
    ]

    opened = await emu.click(single.id, custom_id(single, "Retexture"), emu.alice)
    modal = await emu.response_of(opened)
    fields = [row["components"][0] for row in modal["data"]["components"]]
    assert [(f["custom_id"], f.get("value")) for f in fields] == [
        ("prompt", "a lighthouse --seed 2"),
        ("structure", "edges"),
        ("strength", "50"),
    ]
    refused = await emu.submit_modal(
        opened, {"prompt": "a castle", "structure": "outline", "strength": "50"}, emu.alice
    )
    embed = (await ephemeral_reply(emu, refused)).embeds[0]
    assert embed["description"] == "structure must be edges, depth or sketch (got 'outline')."
    again = await emu.click(single.id, custom_id(single, "Retexture"), emu.alice)
    await emu.response_of(again)
    await emu.submit_modal(
        again, {"prompt": "a castle at night", "structure": "sketch", "strength": "100"}, emu.alice
    )
    redrawn = await wait_result(emu, RETEXTURED)
    assert image_of(emu, redrawn).size == (2 * 256, 2 * 256)
    work = jobs(harness)[-1]["parameters"]["spec"]["retexture"]
    first = jobs(harness)[0]["id"]
    assert (work["structure"], work["strength"], work["image"]) == (
        "sketch",
        100,
        {"job": first, "index": 0},
    )

    opened = await emu.click(single.id, custom_id(single, "Change Background"), emu.alice)
    await emu.response_of(opened)
    await emu.submit_modal(opened, {"prompt": "a stormy sea"}, emu.alice)
    await wait_result(emu, BACKGROUND)
    last = jobs(harness)[-1]
    assert last["kind"] == "background"
    assert last["status"] == "done"
    assert 0 < last["parameters"]["effective"]["structure"]["subject_share"] < 1


async def test_refusals_name_the_input(emu: Emulator, harness: BotHarness) -> None:
    none = await emu.slash("retexture", emu.alice, options={"prompt": "a castle"})
    assert (await ephemeral_reply(emu, none)).embeds[0]["description"] == (
        "Give /retexture one image: attach it (image) or link it (image_url)."
    )
    bad = await emu.slash(
        "retexture",
        emu.alice,
        options={"prompt": "a castle --ar 99:1"},
        attachments={"image": ("house.png", png(drawing()), "image/png")},
    )
    assert "--ar" in (await ephemeral_reply(emu, bad)).embeds[0]["description"]
    source, _ = product()
    small = Image.new("RGB", (40, 40), "white")
    mismatched = {
        "image": ("bottle.png", png(source), "image/png"),
        "mask": ("small.png", png(small), "image/png"),
    }
    await emu.slash("background", emu.alice, options={"prompt": "a beach"}, attachments=mismatched)
    await emu.wait_for(lambda: jobs(harness) and jobs(harness)[-1]["status"] == "failed", 60)
    assert jobs(harness)[-1]["error"] == (
        "the mask is 40×40 but the image is 160×128: the mask must be the image's size "
        "(white = keep)"
    )


@pytest.mark.bot_settings(mj_segmenter="none", mj_steps=4)
async def test_without_a_subject_finder_the_subject_is_selected_in_the_editor(
    emu: Emulator, harness: BotHarness
) -> None:
    from tests.bot.e2e.test_reference_editor import page_config
    from tests.bot.e2e.test_region_server import fetch, rectangle_mask, single_image, submit

    single = await single_image(emu, "a red bottle --seed 8")
    pressed = await emu.click(single.id, custom_id(single, "Change Background"), emu.alice)
    answer = await emu.response_of(pressed)
    assert answer["data"]["flags"] & 64  # only for the presser
    assert answer["data"]["content"].startswith("Select the subject of image #1 to keep")
    [button] = answer["data"]["components"][0]["components"]
    url = str(button["url"])
    status, _, page = await fetch(url)
    config = page_config(page)
    assert (status, config["title"], config["background"], config["promptEditable"]) == (
        200,
        "Change Background",
        True,
        True,
    )
    source = image_of(emu, single).convert("RGB")
    box = (60, 50, 190, 220)
    subject = rectangle_mask(source.size, box)
    assert await submit(url, png(subject), "on a snowy mountain top") == (
        200,
        {"ok": True, "message": "Submitted — see Discord"},
    )
    changed = await wait_result(emu, BACKGROUND)
    assert changed.content.startswith("**on a snowy mountain top")
    job = jobs(harness)[-1]
    assert job["kind"] == "background"
    assert job["parameters"]["spec"]["background"]["subject"]["path"]  # the selection, stored
    seam = job["parameters"]["effective"]["structure"]["seam_px"]
    inner = np.asarray(subject.filter(ImageFilter.MinFilter(4 * seam + 1))) > 127
    original = np.asarray(source)
    for cell in cells(image_of(emu, changed)):
        pixels = np.asarray(cell.convert("RGB"))
        assert int((pixels[inner] != original[inner]).any(axis=-1).sum()) == 0
    # a command without a mask is refused at once on such a server
    refused = await emu.slash(
        "background",
        emu.alice,
        options={"prompt": "a beach"},
        attachments={"image": ("bottle.png", png(source), "image/png")},
    )
    assert (await ephemeral_reply(emu, refused)).embeds[0]["title"] == "Mark the subject"
