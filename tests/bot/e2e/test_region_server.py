"""Vary (Region) through the editor's HTTP API: links, masks, the region job, and refusals."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import time
from typing import Any

import aiohttp
import numpy as np
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from bot.exts.region.web.tokens import EditGrant, sign, verify
from db.models import Job
from playground import Emulator
from playground.models import Message
from tests.bot.e2e.conftest import BotHarness, custom_id, image_of, imagine, wait_result


async def single_image(emu: Emulator, prompt: str) -> Message:
    await imagine(emu, prompt)
    grid = await wait_result(emu, rf"{prompt}\*\* - <@\d+> \(fast\)$")
    await emu.click(grid.id, custom_id(grid, "U1"), emu.alice)
    return await wait_result(emu, rf"{prompt}\*\* - Image #1 <@")


def editor_of(harness: BotHarness) -> Any:
    """The region feature's cog (discord.py loads features as fresh modules, so this is not
    an instance of the class this test module imported)."""
    assert harness.bot is not None
    cog = harness.bot.get_cog("RegionEditor")
    assert cog is not None
    return cog


async def editor_link(emu: Emulator, single: Message, user: Any = None) -> str:
    pressed = await emu.click(single.id, custom_id(single, "Vary (Region)"), user or emu.alice)
    answer = await emu.response_of(pressed)
    assert answer["data"]["flags"] & 64  # only the presser sees the link
    [button] = answer["data"]["components"][0]["components"]
    assert button["style"] == 5  # a link button
    return str(button["url"])


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def rectangle_mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    return mask


async def submit(url: str, mask: bytes, prompt: str = "") -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData()
    form.add_field("mask", mask, filename="mask.png", content_type="image/png")
    form.add_field("prompt", prompt)
    async with aiohttp.ClientSession() as http, http.post(url, data=form) as response:
        return response.status, await response.json()


async def fetch(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, response.content_type, await response.read()


async def test_region_edit_end_to_end_and_a_used_link_is_refused(
    emu: Emulator, harness: BotHarness
) -> None:
    single = await single_image(emu, "a green valley --seed 11")
    source = image_of(emu, single)
    url = await editor_link(emu, single)
    status, kind, page = await fetch(url)
    assert (status, kind) == (200, "text/html")
    assert '"promptEditable": false' in page.decode()
    status, kind, picture = await fetch(url + "/image")
    assert status == 200
    assert Image.open(io.BytesIO(picture)).size == source.size

    box = (40, 30, 150, 120)
    status, body = await submit(url, png(rectangle_mask(source.size, box)))
    assert (status, body) == (200, {"ok": True, "message": "Submitted — see Discord"})
    result = await wait_result(
        emu, r"a green valley --seed 11\*\* - Variations \(Region\) by <@\d+> \(fast\)$"
    )
    grid = np.asarray(image_of(emu, result).convert("RGB")).astype(int)
    width, height = source.size
    keep = np.ones((height, width), bool)
    keep[box[1] - 4 : box[3] + 5, box[0] - 4 : box[2] + 5] = False  # the mask and its seam
    original = np.asarray(source.convert("RGB")).astype(int)
    for row in range(2):
        for col in range(2):
            cell = grid[row * height : (row + 1) * height, col * width : (col + 1) * width]
            assert np.abs(cell - original)[keep].max() <= 2  # PNG round trip only
            assert np.abs(cell - original)[~keep].mean() > 1  # the region was redrawn

    again, body = await submit(url, png(rectangle_mask(source.size, box)))
    assert again == 409
    assert "already submitted" in body["error"]
    status, _, page = await fetch(url)
    assert status == 409


async def test_forged_expired_and_tampered_links_are_refused(
    emu: Emulator, harness: BotHarness
) -> None:
    assert harness.bot is not None
    single = await single_image(emu, "a blue lake --seed 12")
    url = await editor_link(emu, single)
    base, token = url.rsplit("/", 1)
    secret = editor_of(harness).server.secret
    grant = verify(token, secret)
    assert grant.user_id == emu.alice.id
    mask = png(rectangle_mask(image_of(emu, single).size, (0, 0, 20, 20)))

    payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    bob = dataclasses.replace(grant, user_id=emu.bob.id)
    other_payload = sign(bob, secret).split(".")[0]
    refused = {
        "tampered signature": f"{payload}.{flipped}",
        "someone else's grant": f"{other_payload}.{signature}",
        "forged with another secret": sign(grant, b"not the bot's secret"),
        "expired": sign(dataclasses.replace(grant, expires=int(time.time()) - 1), secret),
        "garbage": "not-a-token",
    }
    for name, bad in refused.items():
        status, _, page = await fetch(f"{base}/{bad}")
        assert status == 403, name
        assert "cannot be used" in page.decode(), name
        status, _ = await submit(f"{base}/{bad}", mask)
        assert status == 403, name
    status, _, _ = await fetch(f"{base}/{bad}/image")
    assert status == 403


@pytest.mark.parametrize(
    ("mask", "status", "message"),
    [
        ("wrong size", 400, "exactly the image's size"),
        ("not a png", 400, "must be a PNG"),
        ("empty", 400, "The mask is empty"),
        ("everything", 400, "whole image"),
        ("huge", 400, "larger than 16 MiB"),
    ],
)
async def test_bad_masks_are_refused_with_a_clear_message(
    emu: Emulator, harness: BotHarness, mask: str, status: int, message: str
) -> None:
    single = await single_image(emu, "a red rock --seed 13")
    size = image_of(emu, single).size
    url = await editor_link(emu, single)
    data = {
        "wrong size": png(Image.new("L", (size[0] // 2, size[1]), 255)),
        "not a png": b"GIF89a not really",
        "empty": png(Image.new("L", size, 0)),
        "everything": png(Image.new("L", size, 255)),
        "huge": b"\0" * (17 * 1024 * 1024),
    }[mask]
    got, body = await submit(url, data)
    assert got == status
    assert message in body["error"]
    # Nothing was queued, and the link still works for a good mask.
    good = png(rectangle_mask(size, (10, 10, 60, 60)))
    assert (await submit(url, good))[0] == 200


@pytest.mark.bot_settings(mj_public_url="https://edit.example.com/", mj_web_host="127.0.0.1")
async def test_the_server_binds_where_configured_and_links_use_the_public_url(
    emu: Emulator, harness: BotHarness
) -> None:
    assert harness.bot is not None
    editor = editor_of(harness).server
    assert editor.host == "127.0.0.1"
    assert editor.port > 0
    single = await single_image(emu, "a white cloud --seed 14")
    url = await editor_link(emu, single)
    assert url.startswith("https://edit.example.com/edit/")
    local = url.replace("https://edit.example.com", f"http://127.0.0.1:{editor.port}")
    assert (await fetch(local))[0] == 200


@pytest.mark.bot_settings(mj_web_host="203.0.113.1")  # not this machine's: binding fails
async def test_without_the_web_server_vary_region_says_so(
    emu: Emulator, harness: BotHarness
) -> None:
    single = await single_image(emu, "a grey stone --seed 15")
    pressed = await emu.click(single.id, custom_id(single, "Vary (Region)"), emu.alice)
    answer = await emu.response_of(pressed)
    assert "not available" in answer["data"]["content"]


def test_grants_round_trip_and_name_their_region_job() -> None:
    grant = EditGrant.issue("00000000-0000-0000-0000-000000000001", 2, 42, remix=True)
    token = sign(grant, b"secret")
    assert verify(token, b"secret") == grant
    assert (
        grant.region_job_id
        == EditGrant(**json.loads(json.dumps(dataclasses.asdict(grant)))).region_job_id
    )
    assert EditGrant.issue(grant.job_id, 2, 42, remix=True).region_job_id != grant.region_job_id


async def test_with_remix_the_prompt_can_be_changed(emu: Emulator, harness: BotHarness) -> None:
    await emu.response_of(await emu.slash("prefer", emu.alice, subcommand="remix"))
    await imagine(emu, "a dry desert --seed 16")
    grid = await wait_result(emu, r"a dry desert --seed 16\*\* - <@\d+> \(fast\)$")
    opened = await emu.click(grid.id, custom_id(grid, "U2"), emu.alice)
    await emu.response_of(opened)
    single = await wait_result(emu, r"a dry desert --seed 16\*\* - Image #2 <@")
    url = await editor_link(emu, single)
    _, _, page = await fetch(url)
    assert '"promptEditable": true' in page.decode()
    mask = png(rectangle_mask(image_of(emu, single).size, (5, 5, 80, 80)))
    status, body = await submit(url, mask, "a dry desert --chaos 500")
    assert status == 400
    assert "--chaos" in body["error"]
    status, _ = await submit(url, mask, "a snowy desert --seed 16")
    assert status == 200
    await wait_result(
        emu, r"^\*\*a snowy desert --seed 16\*\* - Remix \(Region\) by <@\d+> \(fast\)$"
    )


async def test_concurrent_submits_of_one_link_make_one_job_and_no_errors(
    emu: Emulator, harness: BotHarness
) -> None:
    single = await single_image(emu, "a red barn --seed 17")
    url = await editor_link(emu, single)
    mask = png(rectangle_mask(image_of(emu, single).size, (5, 5, 60, 60)))
    answers = await asyncio.gather(*(submit(url, mask) for _ in range(30)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * 29
    await wait_result(emu, r"a red barn --seed 17\*\* - Variations \(Region\) by <@\d+> \(fast\)$")
    assert harness.bot is not None
    async with harness.bot.deps.db.read() as session:
        kinds = (await session.execute(select(Job.kind))).scalars().all()
    assert sorted(str(k) for k in kinds) == ["imagine", "region"]


async def test_a_form_of_many_fields_is_refused_before_it_is_read(
    emu: Emulator, harness: BotHarness
) -> None:
    single = await single_image(emu, "a blue barn --seed 18")
    url = await editor_link(emu, single)
    mask = png(rectangle_mask(image_of(emu, single).size, (5, 5, 60, 60)))
    form = aiohttp.FormData()
    for number in range(20_000):
        form.add_field(f"f{number}", "")
    form.add_field("mask", mask, filename="mask.png", content_type="image/png")  # multipart
    async with aiohttp.ClientSession() as http, http.post(url, data=form) as response:
        status, body = response.status, await response.json()
    assert status == 400
    assert "more than 7 fields" in body["error"]
    # The link still works for a proper submission.
    assert (await submit(url, mask))[0] == 200
