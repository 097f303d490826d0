"""Change Background's subject in a real browser (Debian's chromium, driven by Playwright),
where no subject finder is configured: the editor asks for the subject and the new
background, and the job keeps exactly the selected pixels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

from playground import Emulator
from tests.bot.e2e.conftest import BotHarness, custom_id, image_of, wait_result
from tests.bot.e2e.test_region_browser import browser
from tests.bot.e2e.test_region_server import single_image
from tests.bot.e2e.test_retexture_flow import BACKGROUND, cells, jobs

# SQLite alone: the page does the same whatever database the bot keeps, and the server side
# of each page is tested on both databases (test_region_server, test_reference_editor,
# test_retexture_flow); a second browser run would add time and a browser's flakiness only.
pytestmark = pytest.mark.sqlite_only("a browser test: the database changes nothing in the page")

__all__ = ["browser"]  # the fixture


@pytest.mark.bot_settings(mj_segmenter="none", mj_steps=4)
async def test_select_the_subject_and_write_the_new_background(
    emu: Emulator, harness: BotHarness, browser: Any
) -> None:
    single = await single_image(emu, "a blue vase --seed 12")
    source = image_of(emu, single).convert("RGB")
    pressed = await emu.click(single.id, custom_id(single, "Change Background"), emu.alice)
    [button] = (await emu.response_of(pressed))["data"]["components"][0]["components"]
    page = await browser.new_page(viewport={"width": 1100, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(str(button["url"]))
    await page.wait_for_function("window.mjEditor !== undefined")
    assert await page.text_content("#title") == "Change Background"
    assert "subject to keep" in (await page.text_content("#help") or "")
    assert await page.text_content("#prompt-label") == "The new background"
    assert await page.is_editable("#prompt")
    assert not await page.is_visible("#reference-panel")

    box = await page.locator("#editor").bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.2 * box["height"])
    await page.mouse.down()
    await page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.8 * box["height"], steps=8)
    await page.mouse.up()
    await page.fill("#prompt", "on a wooden shelf in a library")
    await page.click("#submit")
    await page.wait_for_function(
        "['success', 'error'].some(c => document.querySelector('#status').classList.contains(c))"
    )
    assert await page.text_content("#status") == "Submitted — see Discord"
    assert not errors

    changed = await wait_result(emu, BACKGROUND)
    assert changed.content.startswith("**on a wooden shelf in a library")
    job = jobs(harness)[-1]
    seam = job["parameters"]["effective"]["structure"]["seam_px"]
    share = job["parameters"]["effective"]["structure"]["subject_share"]
    assert share == pytest.approx(0.4 * 0.6, abs=0.03)  # the rectangle drawn
    path = harness.data_dir / job["parameters"]["spec"]["background"]["subject"]["path"]
    subject = Image.open(path).convert("L")
    inner = np.asarray(subject.filter(ImageFilter.MinFilter(4 * seam + 1))) > 127
    original = np.asarray(source)
    for cell in cells(image_of(emu, changed)):
        pixels = np.asarray(cell.convert("RGB"))
        assert int((pixels[inner] != original[inner]).any(axis=-1).sum()) == 0
