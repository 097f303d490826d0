"""Reference edits end to end: ``/mimic`` with an image, a mask and a reference → a 2×2 grid
that keeps every pixel outside the region, its buttons, refusals answered at once, and a mask
the engine refuses failing the job with the engine's reason."""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image

from playground import Emulator
from playground.models import InteractionRecord
from tests.bot.e2e.conftest import BotHarness, custom_id, image_of, labels, wait_result
from tests.bot.e2e.test_transfer_flow import jobs, refusal

DONE = r" - Variations \(Reference\) by <@\d+> \(fast\)$"
SIZE = (96, 64)
BOX = (24, 16, 72, 48)
"""The region (white in the mask): left, top, right, bottom."""


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def source_image() -> Image.Image:
    image = Image.new("RGB", SIZE, (40, 120, 200))
    image.paste((230, 180, 20), (8, 8, 40, 40))
    return image


def mask_image(size: tuple[int, int] = SIZE) -> Image.Image:
    image = Image.new("L", size, 0)
    image.paste(255, BOX)
    return image


def noise_image() -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, (80, 80, 3), dtype=np.uint8), "RGB")


def upload(name: str, image: Image.Image) -> tuple[str, bytes, str]:
    return (name, png(image), "image/png")


async def mimic(emu: Emulator, **given: object) -> InteractionRecord:
    """``/mimic`` with options, and ``(name, bytes, type)`` uploads for image/mask/reference."""
    uploads = {k: v for k, v in given.items() if isinstance(v, tuple)}
    options = {k: v for k, v in given.items() if not isinstance(v, tuple)}
    return await emu.slash("mimic", emu.alice, options=options, attachments=uploads)


async def test_mimic_uploads_give_a_grid_keeping_the_outside(
    emu: Emulator, harness: BotHarness
) -> None:
    record = await mimic(
        emu,
        image=upload("source.png", source_image()),
        mask=upload("mask.png", mask_image()),
        reference=upload("ref.png", noise_image()),
    )
    result = await wait_result(emu, DONE)
    assert result.content == (
        f"**source.png + ref.png** - Variations (Reference) by <@{emu.alice.id}> (fast)"
    )
    assert (await emu.response_of(record))["type"] == 5  # thinking…, then deleted
    assert len(result.attachments) == 1
    grid = image_of(emu, result).convert("RGB")
    assert grid.size == (SIZE[0] * 2, SIZE[1] * 2)  # four cells at the source's size
    assert labels(result) == [["U1", "U2", "U3", "U4", "🔄"], ["V1", "V2", "V3", "V4"]]
    source = np.asarray(source_image())
    outside = np.asarray(mask_image()) == 0
    pixels = np.asarray(grid)
    for row in range(2):
        for column in range(2):
            top, left = row * SIZE[1], column * SIZE[0]
            cell = pixels[top : top + SIZE[1], left : left + SIZE[0]]
            assert (cell[outside] == source[outside]).all(), (row, column)
            assert (cell[~outside] != source[~outside]).any(), (row, column)
    [job] = jobs(harness)
    assert (job["kind"], job["status"]) == ("mimic", "done")
    work = job["parameters"]["spec"]["mimic"]
    assert work["keep_shape"] is False
    paths = {work[name]["path"] for name in ("image", "mask", "reference")}
    assert len(paths) == 3  # all three stored
    assert job["parameters"]["effective"]["operation"] == "mimic"
    assert len(job["parameters"]["spec"]["seeds"]) == 4

    # Remix on: V1's form starts empty (the echo names files, it is no prompt) and the
    # words typed there guide the variation.
    await emu.response_of(await emu.slash("prefer", emu.alice, subcommand="remix"))
    opened = await emu.click(result.id, custom_id(result, "V1"), emu.alice)
    field = (await emu.response_of(opened))["data"]["components"][0]["components"][0]
    assert field.get("value", "") == ""
    await emu.submit_modal(opened, {field["custom_id"]: "a bronze statue"})
    await wait_result(emu, r"^\*\*a bronze statue\*\* - Remix \(Strong\) by <@\d+> \(fast\)$")
    await emu.response_of(await emu.slash("prefer", emu.alice, subcommand="remix"))

    # U1: the first image alone, and it upscales like any other.
    await emu.click(result.id, custom_id(result, "U1"), emu.alice)
    single = await wait_result(emu, r"Image #1 <@")
    assert image_of(emu, single).size == SIZE
    await emu.click(single.id, custom_id(single, "Upscale (Subtle)"), emu.alice)
    upscaled = await wait_result(emu, r"Upscaled \(Subtle\) by <@\d+> \(fast\)$")
    assert image_of(emu, upscaled).size == (SIZE[0] * 2, SIZE[1] * 2)
    # 🔄: the same edit again with new seeds (its stored images reused).
    await emu.click(result.id, custom_id(result, "🔄"), emu.alice)
    again = await wait_result(emu, DONE, count=2)
    assert again.content == result.content
    assert image_of(emu, again).size == grid.size
    done = jobs(harness)
    assert [(j["kind"], j["status"]) for j in done] == [
        ("mimic", "done"),
        ("variation", "done"),
        ("upscale", "done"),
        ("mimic", "done"),
    ]
    assert done[1]["parameters"]["spec"]["prompt"] == [["a bronze statue", 1.0]]
    assert done[3]["parameters"]["spec"]["seeds"] != done[0]["parameters"]["spec"]["seeds"]
    assert done[3]["parameters"]["spec"]["mimic"] == work


async def test_mimic_refuses_bad_inputs_at_once(emu: Emulator, harness: BotHarness) -> None:
    picture = upload("a.png", source_image())
    mask = upload("m.png", mask_image())
    reference = upload("r.png", noise_image())
    text = await mimic(
        emu, image=("notes.txt", b"hello", "text/plain"), mask=mask, reference=reference
    )
    assert await refusal(emu, text) == (
        "Invalid image",
        "image: notes.txt is not an image (PNG, JPEG, WebP or GIF).",
    )
    bad_mask = await mimic(
        emu, image=picture, mask=("m.txt", b"white", "text/plain"), reference=reference
    )
    assert await refusal(emu, bad_mask) == (
        "Invalid image",
        "mask: m.txt is not an image (PNG, JPEG, WebP or GIF).",
    )
    neither = await mimic(emu, mask=mask, reference=reference)
    assert await refusal(emu, neither) == (
        "Invalid parameter",
        "Give /mimic one image: attach it (image) or link it (image_url).",
    )
    both = await mimic(
        emu, image=picture, image_url="https://e.x/a.png", mask=mask, reference=reference
    )
    assert (await refusal(emu, both))[0] == "Invalid parameter"
    not_link = await mimic(emu, image=picture, mask=mask, reference_url="ref.png")
    assert await refusal(emu, not_link) == (
        "Invalid link",
        "reference_url is not a link: 'ref.png'",
    )
    assert jobs(harness) == []  # nothing was queued


async def test_mimic_with_a_mask_of_another_size_fails_with_the_reason(
    emu: Emulator, harness: BotHarness
) -> None:
    await mimic(
        emu,
        image=upload("source.png", source_image()),
        mask=upload("mask.png", mask_image((64, 64))),
        reference=upload("ref.png", noise_image()),
    )
    failed = await emu.wait_for(
        lambda: [m for m in emu.messages() if "(Failed:" in m.content],
        60,
        what="the job's failure",
    )
    reason = "the mask is 64×64 but the image is 96×64; the mask must be the image's size"
    assert failed[0].content == (
        f"**source.png + ref.png** - Variations (Reference) by <@{emu.alice.id}> (Failed: {reason})"
    )
    assert failed[0].components == []
    [job] = jobs(harness)
    assert (job["kind"], job["status"], job["error"]) == ("mimic", "failed", reason)
    assert not [m for m in emu.messages() if re.search(DONE, m.content)]
