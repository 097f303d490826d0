"""The issue's flow in a real browser: `mjbot serve` with no Discord token (the bot and its
local playground in one process), a person clicking through the page. /imagine via the
command list, "Waiting to start" → progress → the grid, U2, Upscale (Subtle), Vary (Region)
in the editor, Custom Zoom's form, /describe with an upload, /settings, ✉️, then a restart
of the process: the history is there, old buttons work, and ❌ is refused to bob and works
for alice."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import pytest
from PIL import Image

from tests.browser import PageErrors, artefacts, browser, require_chromium, screenshot

require_chromium()
__all__ = ["artefacts", "browser"]  # fixtures

ROOT = Path(__file__).resolve().parents[3]
MJBOT = Path(sys.executable).with_name("mjbot")
PROMPT = "a red fox in the snow --ar 16:9 --seed 7"
DOCS = ROOT / "docs"
RECORDER = """() => {
  window.mjSeen = [];
  const record = () => {
    for (const li of document.querySelectorAll('#timeline li.msg')) {
      const text = (li.querySelector('.content')?.textContent || '').trim();
      const state = `${text} [${li.querySelectorAll('.attachments img').length} image]`;
      if (!window.mjSeen.includes(state)) window.mjSeen.push(state);
    }
  };
  new MutationObserver(record).observe(document.getElementById('timeline'),
    { childList: true, subtree: true, characterData: true });
}"""


class Process:
    """A child process with its output in a log file; every one is reaped after the test."""

    running: ClassVar[list[Process]] = []

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, *command: str, env: dict[str, str]) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                *command, cwd=ROOT, env=env, stdout=out, stderr=out
            )
        Process.running.append(self)

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 60)

    def alive(self) -> None:
        assert self.process is not None
        if self.process.returncode is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{self.name} exited ({self.process.returncode}):\n{tail}")


@pytest.fixture(autouse=True)
async def reap() -> AsyncIterator[None]:
    yield
    while Process.running:
        child = Process.running.pop().process
        if child is not None and child.returncode is None:
            child.kill()
            await child.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class World:
    """`mjbot serve` without a Discord token: one process, the bot and its playground."""

    def __init__(self, folder: Path, models: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.data = folder / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        if not (self.data / "models").exists():
            (self.data / "models").symlink_to(models, target_is_directory=True)
        self.bot = Process("mjbot serve", folder / "bot.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def start(self, **bot_env: str) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DISCORD_", "MJ_"))  # nothing but what the README asks
        }
        env.update(
            MJ_DATA_DIR=str(self.data),
            MJ_PLAYGROUND_PORT=str(self.port),
            MJ_PROGRESS_INTERVAL="0",
            MJ_WEB_PORT="0",
            HF_HUB_OFFLINE="1",
            **bot_env,
        )
        logged = self.bot.log.stat().st_size if self.bot.log.exists() else 0
        await self.bot.start(str(MJBOT), "serve", env=env)
        await self.ready(logged)

    async def ready(self, logged: int) -> None:
        """It printed where to open it (after the first ``logged`` bytes of its log: those
        are an earlier run's), the bot is connected, its commands are synced."""
        announced = f"Open {self.url} to use mjbot (local playground; set DISCORD_TOKEN to use"
        async with aiohttp.ClientSession() as http:
            for _ in range(1200):
                self.bot.alive()
                if announced in self.bot.log.read_bytes()[logged:].decode(errors="replace"):
                    async with http.get(f"{self.url}client/state") as response:
                        state = await response.json()
                    if state["connected"] and state["guilds"][0]["commands"]:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError("the bot did not connect within 120 s")

    async def stop(self) -> None:
        assert await self.bot.stop() == 0, self.bot.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def world(tmp_path: Path, shared_models: Path) -> Iterator[World]:
    both = World(tmp_path, shared_models)
    yield both
    for child in (both.bot,):  # shown when the test failed
        if child.log.exists():
            print(f"--- {child.name} ---\n{child.log.read_text(errors='replace')[-4000:]}")


# -- the page -------------------------------------------------------------------------------------


def message(page: Any, text: str) -> Any:
    return page.locator("#timeline li.msg", has_text=text)


def button(scope: Any, label: str) -> Any:
    """A button by its label, or its emoji when it has no label."""
    return scope.locator(f".component-button[data-label={json.dumps(label, ensure_ascii=False)}]")


async def labels(scope: Any) -> list[list[str]]:
    rows = scope.locator(".action-row")
    found = []
    for index in range(await rows.count()):
        buttons = rows.nth(index).locator(".component-button")
        found.append(await buttons.evaluate_all("nodes => nodes.map(n => n.dataset.label)"))
    return found


async def open_page(browser: Any, url: str) -> tuple[Any, Any, PageErrors]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors = PageErrors(page, expected=("ERR_CONNECTION_REFUSED",))  # while it restarts
    await page.goto(url)
    await page.evaluate("window.mjPlayground.ready")
    await page.evaluate(RECORDER)
    return context, page, errors


async def shown(locator: Any) -> None:
    """Wait for a message and scroll it into view (results of a button press arrive below)."""
    await locator.wait_for(timeout=120_000)
    await locator.scroll_into_view_if_needed()


async def run(page: Any, text: str) -> None:
    """Type a command line and send it (the space after a name chooses the command)."""
    await page.click("#command-input")
    await page.keyboard.type(f"{text} ")
    await page.keyboard.press("Enter")


async def as_person(page: Any, name: str) -> None:
    await page.select_option("#user-switch", label=name)


async def for_docs(page: Any, name: str) -> None:
    """The README's screenshots, refreshed with MJ_UPDATE_SCREENSHOTS=1."""
    if os.environ.get("MJ_UPDATE_SCREENSHOTS"):
        await page.screenshot(path=str(DOCS / name))


def upload_png(path: Path) -> Path:
    image = Image.new("RGB", (96, 64), (30, 90, 200))
    for x in range(0, 96, 8):
        for y in range(64):
            image.putpixel((x, y), (240, 200, 40))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


# -- the flow -------------------------------------------------------------------------------------


async def test_the_whole_flow_in_a_browser_and_across_a_restart(
    world: World, browser: Any, artefacts: Path, tmp_path: Path
) -> None:
    await world.start(MJ_STEPS="8")
    context, page, errors = await open_page(browser, world.url)
    shots = artefacts / "playground-flow"
    shots.mkdir(exist_ok=True)
    try:
        await flow(world, context, page, shots, tmp_path)
    except BaseException:
        await screenshot(page, shots, "failed")
        raise
    assert not errors.errors
    await context.close()


async def flow(world: World, context: Any, page: Any, shots: Path, tmp_path: Path) -> None:

    # 1. /imagine from the command list
    await page.click("#command-input")
    await page.keyboard.type("/")
    names = await page.locator("#popup .item .name").all_text_contents()
    assert {"/imagine", "/describe", "/settings", "/prefer option set"} <= set(names)
    await screenshot(page, shots, "01 command list")
    await for_docs(page, "playground-commands.png")
    await page.keyboard.type("ima")
    entry = page.locator("#popup .item", has_text="/imagine")
    assert await entry.locator(".description").text_content() == "Create images from a prompt"
    await page.keyboard.press("Enter")
    assert await page.input_value("#command-input") == "/imagine prompt: "
    await page.keyboard.type(PROMPT)
    await screenshot(page, shots, "02 command options")
    await page.keyboard.press("Enter")

    # 2. "Waiting to start" → progress (with previews) → the grid with its buttons
    grid = message(page, f"{PROMPT} - @alice (fast)")
    await grid.wait_for(timeout=120_000)
    seen = await page.evaluate("window.mjSeen")
    waiting = [s for s in seen if PROMPT in s and "Waiting to start" in s]
    progress = [s for s in seen if PROMPT in s and re.search(r"\(\d+%\)", s)]
    assert waiting, seen
    assert progress, seen
    assert seen.index(waiting[0]) < seen.index(progress[0])
    assert await labels(grid) == [["U1", "U2", "U3", "U4", "🔄"], ["V1", "V2", "V3", "V4"]]
    assert await grid.locator(".attachments img").count() == 1
    await grid.scroll_into_view_if_needed()
    await screenshot(page, shots, "03 grid")
    await for_docs(page, "playground-grid.png")

    # 3. U2, then Upscale (Subtle)
    await button(grid, "U2").click()
    single = message(page, f"{PROMPT} - Image #2 @alice")
    await single.wait_for(timeout=60_000)
    assert (await labels(single))[0] == [
        "Upscale (Subtle)",
        "Upscale (Creative)",
        "Vary (Subtle)",
        "Vary (Strong)",
        "Vary (Region)",
    ]
    await screenshot(page, shots, "04 single image")
    await button(single, "Upscale (Subtle)").click()
    await shown(message(page, "Upscaled (Subtle) by @alice (fast)"))
    await screenshot(page, shots, "05 upscaled")

    # 4. Vary (Region): the editor opens from the ephemeral link in a new tab
    await button(single, "Vary (Region)").click()
    link_message = page.locator(
        "#timeline li.msg.ephemeral", has=page.locator("a.component-button")
    )
    await link_message.wait_for()
    assert "Only you can see this" in (await link_message.text_content() or "")
    await screenshot(page, shots, "06 region link")
    async with context.expect_page() as opened:
        await link_message.locator("a.component-button").click()
    editor = await opened.value
    await editor.wait_for_function("window.mjEditor !== undefined")
    box = await editor.locator("#editor").bounding_box()
    assert box is not None
    await editor.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.2 * box["height"])
    await editor.mouse.down()
    await editor.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.7 * box["height"], steps=8)
    await editor.mouse.up()
    await screenshot(editor, shots, "07 region editor")
    await editor.click("#submit")
    await editor.wait_for_function(
        "document.querySelector('#status').classList.contains('success')"
    )
    await editor.close()
    await shown(message(page, "Variations (Region) by @alice (fast)"))
    await screenshot(page, shots, "08 region result")

    # 5. Custom Zoom: the bot's form as a dialog
    await button(single, "Custom Zoom").click()
    dialog = page.locator("dialog#modal")
    await dialog.wait_for()
    field = dialog.locator("textarea, input").first
    assert (await field.input_value()).endswith("--zoom 2")
    await screenshot(page, shots, "09 custom zoom form")
    await field.fill(f"{PROMPT} --zoom 1.5")
    await dialog.locator("button.submit").click()
    await shown(message(page, "Zoom Out by @alice (fast)"))
    await screenshot(page, shots, "10 zoomed out")

    # 6. /describe with an uploaded file
    await page.click("#command-input")
    await page.keyboard.type("/describe")
    await page.keyboard.press("Enter")  # the command list takes /describe
    async with page.expect_file_chooser() as chooser:
        await page.click("#options-bar .option-chip[data-option=image]")
    await (await chooser.value).set_files(str(upload_png(tmp_path / "stripes.png")))
    await page.keyboard.press("Enter")
    described = page.locator("#timeline li.msg", has=button(page, "Imagine all"))
    await shown(described)
    assert await labels(described) == [["1️⃣", "2️⃣", "3️⃣", "4️⃣", "🔄"], ["Imagine all"]]
    await screenshot(page, shots, "11 describe")

    # 7. /settings: a toggle turns green
    await run(page, "/settings")
    panel = page.locator("#timeline li.msg.ephemeral", has=button(page, "RAW Mode"))
    await panel.wait_for()
    raw = button(panel, "RAW Mode")
    assert "style-2" in (await raw.get_attribute("class") or "")
    await raw.click()
    await panel.locator(".component-button.style-3[data-label='RAW Mode']").wait_for()
    await screenshot(page, shots, "12 settings")

    # 8. ✉️ on the grid: the job comes by DM
    await grid.hover()
    await grid.locator(".add-reaction").click()
    await page.click("#emoji-picker button[data-emoji='✉️']")
    await page.locator("#dms button").wait_for(timeout=60_000)
    await page.click("#dms button")
    await message(page, "Job ID").wait_for()
    await screenshot(page, shots, "13 dm")
    await page.click("#channels button >> nth=0")

    # 9. both processes restart: history and old buttons survive; long jobs this time
    await world.stop()
    await world.start(MJ_STEPS="3000")
    await page.locator("#bot-status.online").wait_for(timeout=60_000)
    grid = message(page, f"{PROMPT} - @alice (fast)")
    await grid.wait_for()
    assert await message(page, "Upscaled (Subtle) by @alice").count() == 1
    await screenshot(page, shots, "14 after restart")
    await button(grid, "U3").click()
    await message(page, f"{PROMPT} - Image #3 @alice").wait_for(timeout=60_000)

    # 10. ❌ on a running job: bob is refused, alice stops it
    await run(page, "/imagine prompt: a long exposure of the stars")
    waiting = page.locator("#timeline li.msg", has_text="a long exposure of the stars").filter(
        has=button(page, "❌")
    )
    await waiting.wait_for(timeout=60_000)
    await as_person(page, "bob")
    await button(waiting, "❌").click()
    refusal = message(page, "can cancel this job")
    await refusal.wait_for()
    assert "Only @alice can cancel this job." in (await refusal.text_content() or "")
    await screenshot(page, shots, "15 cancel refused")
    await as_person(page, "alice")
    assert await refusal.count() == 0  # bob's ephemeral answer is his alone
    await button(waiting, "❌").click()
    await page.locator("#timeline li.msg", has_text="(Stopped)").wait_for(timeout=60_000)
    await screenshot(page, shots, "16 cancelled")
    await world.stop()
