"""Vary (Reference) through the editor's HTTP API: the button's link, the reference panel's
gallery (the user's own images only), the three ways to give a reference, the job it makes
(a reference edit of the job's image that keeps every pixel outside the region), and
refusals that say what to fix and queue nothing."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import aiohttp
import numpy as np
from PIL import Image

from bot.exts.region.reference import NO_REFERENCE, NOT_YOURS
from playground import Emulator
from playground.models import Message
from tests.bot.e2e.conftest import BotHarness, custom_id, image_of, wait_result
from tests.bot.e2e.test_region_server import fetch, png, rectangle_mask, single_image
from tests.bot.e2e.test_transfer_flow import linked

__all__ = ["linked"]  # the fixture

DONE = r"\*\* - Variations \(Reference\) by <@\d+> \(fast\)$"


async def reference_link(emu: Emulator, single: Message, user: Any = None) -> str:
    pressed = await emu.click(single.id, custom_id(single, "Vary (Reference)"), user or emu.alice)
    answer = await emu.response_of(pressed)
    assert answer["data"]["flags"] & 64  # only the presser sees the link
    assert "choose the reference" in answer["data"]["content"]
    [button] = answer["data"]["components"][0]["components"]
    return str(button["url"])


async def send(url: str, mask: bytes, **fields: Any) -> tuple[int, dict[str, Any]]:
    """POST the mask and reference fields (``reference`` is ``(filename, bytes)``)."""
    form = aiohttp.FormData()
    form.add_field("mask", mask, filename="mask.png", content_type="image/png")
    for name, value in fields.items():
        if isinstance(value, tuple):
            form.add_field(name, value[1], filename=value[0], content_type="image/png")
        else:
            form.add_field(name, str(value))
    async with aiohttp.ClientSession() as http, http.post(url, data=form) as response:
        return response.status, await response.json()


def jobs(harness: BotHarness) -> list[dict[str, Any]]:
    rows = harness.database.rows(
        "SELECT id, user_id, kind, status, parameters FROM jobs ORDER BY queued_at"
    )
    return [
        {"id": i, "user_id": u, "kind": k, "status": s, "parameters": json.loads(p)}
        for i, u, k, s, p in rows
    ]


def page_config(page: bytes) -> dict[str, Any]:
    found = re.search(rb'<script type="application/json" id="config">(.*?)</script>', page)
    assert found is not None
    return dict(json.loads(found.group(1)))


def noise(size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


async def test_vary_reference_with_an_upload_repaints_only_the_region(
    emu: Emulator, harness: BotHarness
) -> None:
    single = await single_image(emu, "a quiet harbour --seed 21")
    source = image_of(emu, single).convert("RGB")
    url = await reference_link(emu, single)
    status, kind, page = await fetch(url)
    assert (status, kind) == (200, "text/html")
    config = page_config(page)
    assert (config["title"], config["reference"], config["promptEditable"]) == (
        "Vary (Reference)",
        True,
        False,
    )
    box = (30, 20, 120, 100)
    mask = rectangle_mask(source.size, box)
    reference = ("leopard.png", png(noise((80, 80), 3)))
    status, body = await send(url, png(mask), reference=reference, keep_shape="true")
    assert (status, body) == (200, {"ok": True, "message": "Submitted — see Discord"})
    result = await wait_result(emu, DONE)
    assert result.content.startswith("**a quiet harbour --seed 21** - Variations (Reference)")
    grid = np.asarray(image_of(emu, result).convert("RGB")).astype(int)
    width, height = source.size
    assert grid.shape[:2] == (2 * height, 2 * width)
    original = np.asarray(source).astype(int)
    outside = np.asarray(mask) == 0
    for row in range(2):
        for col in range(2):
            cell = grid[row * height : (row + 1) * height, col * width : (col + 1) * width]
            assert np.abs(cell - original)[outside].max() == 0, (row, col)
            assert np.abs(cell - original)[~outside].mean() > 1, (row, col)
    done = jobs(harness)
    assert [(j["kind"], j["status"]) for j in done][-1] == ("mimic", "done")
    work = done[-1]["parameters"]["spec"]["mimic"]
    assert work["keep_shape"] is True
    assert work["image"] == {"job": done[-2]["id"], "index": 0}  # the image it was pressed on
    assert work["reference"]["url"] == "leopard.png"
    assert work["reference"]["path"]
    assert work["mask"]["path"]


async def test_the_gallery_offers_only_the_users_own_images_and_a_pick_is_used(
    emu: Emulator, harness: BotHarness
) -> None:
    theirs = await single_image(emu, "a red kite --seed 22")  # alice's: grid + U1
    bob_grid_prompt = "a blue kite --seed 23"
    await emu.slash("imagine", emu.bob, options={"prompt": bob_grid_prompt})
    await wait_result(emu, rf"{bob_grid_prompt}\*\* - <@{emu.bob.id}> \(fast\)$")
    url = await reference_link(emu, theirs)
    config = page_config((await fetch(url))[2])
    async with aiohttp.ClientSession() as http, http.get(url + "/gallery") as response:
        assert response.status == 200
        images = (await response.json())["images"]
    # Alice's grid has four images; the one being edited (#1) is left out; Bob's are not hers.
    assert [image["label"] for image in images] == [
        f"a red kite --seed 22 — image #{n}" for n in (2, 3, 4)
    ]
    assert config["galleryUrl"].endswith("/gallery")
    status, kind, data = await fetch(url.split("/edit/")[0] + images[1]["url"])
    assert (status, kind) == (200, "image/png")
    picked = Image.open(io.BytesIO(data))
    bob_job = next(j for j in jobs(harness) if j["user_id"] == emu.bob.id)
    status, _, _ = await fetch(f"{url}/gallery/{bob_job['id']}/0")
    assert status == 404

    mask = png(rectangle_mask(image_of(emu, theirs).size, (10, 10, 90, 90)))
    status, body = await send(url, mask, reference_pick=f"{bob_job['id']}/0")
    assert (status, body["error"]) == (400, NOT_YOURS)
    status, body = await send(url, mask, reference_pick=images[1]["id"])
    assert status == 200
    await wait_result(emu, DONE)
    work = jobs(harness)[-1]["parameters"]["spec"]["mimic"]
    assert (work["reference"]["width"], work["reference"]["height"]) == picked.size
    assert work["keep_shape"] is False


async def test_bad_references_are_refused_and_nothing_is_queued(
    emu: Emulator, harness: BotHarness
) -> None:
    single = await single_image(emu, "a grey pier --seed 24")
    url = await reference_link(emu, single)
    mask = png(rectangle_mask(image_of(emu, single).size, (10, 10, 60, 60)))
    before = len(jobs(harness))
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, NO_REFERENCE),
        ({"reference": ("broken.png", b"\x89PNG\r\n\x1a\nnot really")}, "broken.png is a damaged"),
        ({"reference": ("notes.png", b"hello")}, "notes.png is not an image"),
        ({"reference_url": "ftp://e.x/a.png"}, "not a web link"),
        ({"reference_url": "https://e.x/a.png", "reference_pick": "x/0"}, "Give one reference"),
        ({"reference_pick": "nonsense"}, "not one of your images"),
    ]
    for fields, message in cases:
        status, body = await send(url, mask, **fields)
        assert status == 400, fields
        assert message in body["error"], (fields, body)
    assert len(jobs(harness)) == before
    # The link still works afterwards.
    status, _ = await send(url, mask, reference=("ok.png", png(noise((40, 40), 5))))
    assert status == 200
    await wait_result(emu, DONE)


async def test_a_region_link_has_no_gallery(emu: Emulator, harness: BotHarness) -> None:
    single = await single_image(emu, "a white lighthouse --seed 25")
    pressed = await emu.click(single.id, custom_id(single, "Vary (Region)"), emu.alice)
    [button] = (await emu.response_of(pressed))["data"]["components"][0]["components"]
    config = page_config((await fetch(button["url"]))[2])
    assert (config["reference"], config["galleryUrl"], config["title"]) == (
        False,
        None,
        "Vary (Region)",
    )
    async with aiohttp.ClientSession() as http, http.get(button["url"] + "/gallery") as response:
        assert response.status == 404


async def test_mimic_without_a_mask_links_to_the_editor_with_the_reference_chosen(
    emu: Emulator, harness: BotHarness
) -> None:
    from tests.bot.e2e.test_controls import ephemeral_reply
    from tests.bot.e2e.test_mimic_flow import mask_image, mimic, noise_image, source_image, upload

    record = await mimic(
        emu,
        image=upload("source.png", source_image()),
        reference=upload("ref.png", noise_image()),
        keep_shape=True,
    )
    reply = await ephemeral_reply(emu, record)
    assert "your reference is chosen there already" in reply.content
    [[button]] = [row["components"] for row in reply.components]
    url = str(button["url"])
    config = page_config((await fetch(url))[2])
    [stored] = [j for j in jobs(harness) if j["kind"] == "mimic"]
    assert stored["status"] == "done"  # the two images, kept as one finished job
    assert (config["presetPick"], config["keepShape"]) == (f"{stored['id']}/1", True)
    status, _, data = await fetch(url + "/image")
    assert Image.open(io.BytesIO(data)).convert("RGB").tobytes() == source_image().tobytes()
    async with aiohttp.ClientSession() as http, http.get(url + "/gallery") as response:
        ids = [image["id"] for image in (await response.json())["images"]]
    assert ids[0] == config["presetPick"]  # the reference is offered (the image is not)

    status, _ = await send(
        url, png(mask_image()), reference_pick=config["presetPick"], keep_shape="true"
    )
    assert status == 200
    result = await wait_result(emu, DONE)
    assert result.content.startswith("**source.png + ref.png** - Variations (Reference) by")
    grid = np.asarray(image_of(emu, result).convert("RGB"))
    outside = np.asarray(mask_image()) == 0
    cell = grid[: outside.shape[0], : outside.shape[1]]
    assert (cell[outside] == np.asarray(source_image())[outside]).all()
    work = jobs(harness)[-1]["parameters"]["spec"]["mimic"]
    assert work["keep_shape"] is True
    assert work["image"] == {"job": stored["id"], "index": 0}


async def test_mimic_without_a_mask_and_without_the_editor_asks_for_a_mask(
    emu: Emulator, harness: BotHarness
) -> None:
    from tests.bot.e2e.test_mimic_flow import mimic, noise_image, source_image, upload
    from tests.bot.e2e.test_transfer_flow import refusal

    assert harness.bot is not None
    await harness.bot.remove_cog("RegionEditor")
    record = await mimic(
        emu, image=upload("a.png", source_image()), reference=upload("b.png", noise_image())
    )
    title, text = await refusal(emu, record)
    assert title == "Attach a mask"
    assert "attach a mask" in text
    assert jobs(harness) == []


async def test_a_linked_reference_is_fetched_when_the_job_starts(
    emu: Emulator, linked: BotHarness
) -> None:
    single = await single_image(emu, "a tall mast --seed 26")
    reference = emu.host_file("/r/leopard.png", png(noise((64, 64), 9)), "image/png")
    url = await reference_link(emu, single)
    mask = png(rectangle_mask(image_of(emu, single).size, (20, 20, 100, 100)))
    status, _ = await send(url, mask, reference_url=reference)
    assert status == 200
    await wait_result(emu, DONE)
    assert emu.hosted("/r/leopard.png").hits == 1
    work = jobs(linked)[-1]["parameters"]["spec"]["mimic"]
    assert work["reference"]["url"] == reference
    assert (work["reference"]["width"], work["reference"]["height"]) == (64, 64)  # stored
