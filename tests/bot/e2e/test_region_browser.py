"""The region editor in a real browser (Debian's chromium, driven by Playwright): draw a
rectangle and a lasso, submit, and the region job's mask is exactly what was drawn."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from playground import Emulator
from tests.bot.e2e.conftest import BotHarness, image_of, wait_result
from tests.bot.e2e.test_region_server import editor_link, single_image

# SQLite alone: the page does the same whatever database the bot keeps, and the server side
# of each page is tested on both databases (test_region_server, test_reference_editor,
# test_retexture_flow); a second browser run would add time and a browser's flakiness only.
pytestmark = pytest.mark.sqlite_only("a browser test: the database changes nothing in the page")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM) and not os.environ.get("MJ_REQUIRE_BROWSER"):
    pytest.skip(
        "chromium is not installed (apt-get install chromium); CI installs it",
        allow_module_level=True,
    )

RECTANGLE = ((0.10, 0.15), (0.42, 0.55))
"""Corners, as fractions of the shown image."""
LASSO = [(0.60, 0.55), (0.92, 0.50), (0.88, 0.90), (0.70, 0.95), (0.58, 0.80)]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


async def test_draw_a_rectangle_and_a_lasso_and_only_they_are_redrawn(
    emu: Emulator, harness: BotHarness, browser: Any
) -> None:
    single = await single_image(emu, "a calm sea --seed 21")
    source = image_of(emu, single)
    width, height = source.size
    url = await editor_link(emu, single)
    page = await browser.new_page(viewport={"width": 1100, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(url)
    await page.wait_for_function("window.mjEditor !== undefined")
    box = await page.locator("#editor").bounding_box()
    assert box is not None

    def screen(fx: float, fy: float) -> tuple[float, float]:
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    # A rectangle (the default tool), dragged corner to corner.
    (x0, y0), (x1, y1) = screen(*RECTANGLE[0]), screen(*RECTANGLE[1])
    await page.mouse.move(x0, y0)
    await page.mouse.down()
    await page.mouse.move(x1, y1, steps=10)
    await page.mouse.up()
    # A lasso: press, trace the outline, release (the path closes itself).
    await page.click("#tool-lasso")
    path = [screen(*point) for point in LASSO]
    await page.mouse.move(*path[0])
    await page.mouse.down()
    for point in path[1:]:
        await page.mouse.move(*point, steps=12)
    await page.mouse.up()
    assert await page.evaluate("mjEditor.selections.length") == 2
    await page.click("#submit")
    await page.wait_for_function(
        "['success', 'error'].some(c => document.querySelector('#status').classList.contains(c))"
    )
    assert await page.text_content("#status") == "Submitted — see Discord"
    assert await page.is_disabled("#submit")
    assert not errors

    # The region job's mask, at the image's full resolution, is what was drawn.
    mask = np.asarray(_stored_mask(harness)) > 127
    assert mask.shape == (height, width)
    rectangle = np.zeros_like(mask)
    left, top = RECTANGLE[0][0] * width, RECTANGLE[0][1] * height
    right, bottom = RECTANGLE[1][0] * width, RECTANGLE[1][1] * height
    rectangle[round(top) : round(bottom), round(left) : round(right)] = True
    lasso_image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(lasso_image).polygon([(x * width, y * height) for x, y in LASSO], fill=255)
    lasso = np.asarray(lasso_image) > 127
    left_half = np.zeros_like(mask)
    left_half[:, : width // 2] = True
    # Rectangle: pixel-exact but for the one-pixel rounding band along its edges.
    wrong = mask[left_half] != rectangle[left_half]
    assert wrong.sum() <= 2 * ((right - left) + (bottom - top)) + 4
    # Lasso: the mouse path through intermediate steps is the same polygon, rasterised by
    # the browser instead of Pillow.
    both = (mask & lasso)[~left_half].sum()
    either = (mask | lasso)[~left_half].sum()
    assert both / either > 0.97

    # The result: four variations, identical to the source outside the mask (and its seam).
    result = await wait_result(
        emu, r"a calm sea --seed 21\*\* - Variations \(Region\) by <@\d+> \(fast\)$"
    )
    grown = Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(9))
    keep = np.asarray(grown) == 0
    grid = np.asarray(image_of(emu, result).convert("RGB")).astype(int)
    original = np.asarray(source.convert("RGB")).astype(int)
    for row in range(2):
        for col in range(2):
            cell = grid[row * height : (row + 1) * height, col * width : (col + 1) * width]
            difference = np.abs(cell - original)
            assert difference[keep].max() <= 2
            assert difference[mask].mean() > 1


def _stored_mask(harness: BotHarness) -> Image.Image:
    import json

    assert harness.bot is not None
    [(parameters,)] = harness.database.rows("SELECT parameters FROM jobs WHERE kind = 'region'")
    stored = json.loads(parameters)["spec"]["mask"]
    image = harness.bot.deps.runner.delivery.read_image(stored["path"], stored["sha256"])
    return image.convert("L")


async def test_on_a_phone_an_uploaded_mask_is_used(
    emu: Emulator, harness: BotHarness, browser: Any, tmp_path: Any
) -> None:
    single = await single_image(emu, "a quiet road --seed 22")
    width, height = image_of(emu, single).size
    url = await editor_link(emu, single)
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True
    )
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_function("window.mjEditor !== undefined")
    # The image fits the screen: no sideways scrolling.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    box = await page.locator("#editor").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390
    # A power user's own mask (white = redraw) instead of drawing.
    upload = Image.new("L", (width, height), 0)
    ImageDraw.Draw(upload).ellipse((20, 30, 120, 110), fill=255)
    path = tmp_path / "mask.png"
    upload.save(path)
    await page.set_input_files("#mask-file", str(path))
    await page.click("#submit")
    await page.wait_for_function(
        "['success', 'error'].some(c => document.querySelector('#status').classList.contains(c))"
    )
    assert await page.text_content("#status") == "Submitted — see Discord"
    await wait_result(emu, r"a quiet road --seed 22\*\* - Variations \(Region\) by <@\d+>")
    assert np.array_equal(np.asarray(_stored_mask(harness)) > 127, np.asarray(upload) > 127)
    await context.close()
