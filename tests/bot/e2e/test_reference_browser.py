"""Vary (Reference) in a real browser (Debian's chromium, driven by Playwright): the editor's
reference panel — draw a region, upload a reference, then pick one of your images instead,
switch Keep shape on, submit — and the job made is exactly that."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from playground import Emulator
from tests.bot.e2e.conftest import BotHarness, image_of, wait_result
from tests.bot.e2e.test_reference_editor import DONE, reference_link
from tests.bot.e2e.test_region_browser import browser
from tests.bot.e2e.test_region_server import single_image

# SQLite alone: the page does the same whatever database the bot keeps, and the server side
# of each page is tested on both databases (test_region_server, test_reference_editor,
# test_retexture_flow); a second browser run would add time and a browser's flakiness only.
pytestmark = pytest.mark.sqlite_only("a browser test: the database changes nothing in the page")

__all__ = ["browser"]  # the fixture

DOCS = Path(__file__).resolve().parents[3] / "docs"


async def test_draw_upload_then_pick_a_reference_and_submit(
    emu: Emulator, harness: BotHarness, browser: Any, tmp_path: Path
) -> None:
    single = await single_image(emu, "a stone bridge --seed 31")
    source = image_of(emu, single).convert("RGB")
    width, height = source.size
    url = await reference_link(emu, single)
    page = await browser.new_page(viewport={"width": 1100, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(url)
    await page.wait_for_function("window.mjEditor !== undefined && window.mjReference")
    assert await page.text_content("#title") == "Vary (Reference)"
    assert await page.is_visible("#reference-panel")
    assert not await page.is_visible("#prompt")  # guided by the reference, not by text
    # The gallery: the grid's other three images (image #1 is the one being edited).
    await page.wait_for_function("document.querySelectorAll('#reference-gallery .tile').length")
    tiles = page.locator("#reference-gallery .tile")
    assert await tiles.count() == 3
    assert await page.is_disabled("#submit")

    # Draw a rectangle: still no reference, so Submit stays off.
    box = await page.locator("#editor").bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 0.25 * box["height"])
    await page.mouse.down()
    await page.mouse.move(box["x"] + 0.75 * box["width"], box["y"] + 0.7 * box["height"], steps=8)
    await page.mouse.up()
    assert await page.evaluate("mjEditor.selections.length") == 1
    assert await page.is_disabled("#submit")

    # Upload a reference: previewed, Submit on.
    upload = tmp_path / "leopard.png"
    rng = np.random.default_rng(4)
    Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8), "RGB").save(upload)
    await page.set_input_files("#reference-file", str(upload))
    assert "leopard.png" in (await page.text_content("#reference-caption") or "")
    assert await page.is_enabled("#submit")
    # Then pick one of your images instead (its tile is marked), and keep the shape.
    await tiles.nth(1).click()
    assert await tiles.nth(1).get_attribute("aria-selected") == "true"
    assert "image #3" in (await page.text_content("#reference-caption") or "")
    await page.check("#keep-shape")
    if os.environ.get("MJ_UPDATE_SCREENSHOTS"):  # the README's picture
        await page.screenshot(path=str(DOCS / "reference-editor.png"))
    await page.click("#submit")
    await page.wait_for_function(
        "['success', 'error'].some(c => document.querySelector('#status').classList.contains(c))"
    )
    assert await page.text_content("#status") == "Submitted — see Discord"
    assert await page.is_disabled("#submit")
    assert await page.is_disabled("#reference-url")
    assert not errors

    result = await wait_result(emu, DONE)
    assert image_of(emu, result).size == (2 * width, 2 * height)
    sql = harness.database.rows
    rows = sql("SELECT kind, parameters FROM jobs ORDER BY queued_at")
    [[grid_id]] = sql("SELECT id FROM jobs WHERE kind = 'imagine'")
    [[third]] = sql('SELECT path FROM images WHERE job_id = :job AND "index" = 2', job=grid_id)
    kind, parameters = rows[-1]
    work = json.loads(parameters)["spec"]["mimic"]
    assert kind == "mimic"
    assert work["keep_shape"] is True
    assert work["reference"]["path"] == third  # the picked image, not the upload
    assert (harness.data_dir / work["mask"]["path"]).exists()  # the drawn mask, stored
