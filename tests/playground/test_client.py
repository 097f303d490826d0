"""The web client in a real browser against a real discord.py bot (the harness's sample bot):
the command box, options, autocomplete, files, forms, selects, ephemeral messages, live edits,
deletions, reactions, DMs, rendering, paged history and the notices of broken rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from playground import Emulator
from playground.models import UploadedFile
from tests.browser import PageErrors, artefacts, browser, require_chromium, screenshot
from tests.playground.harness import SampleBot, png, running

require_chromium()
__all__ = ["artefacts", "browser"]  # fixtures

LONG_CHANNEL = 300
"""Messages of the paging test: six pages (bench/playground.py opens and scrolls 1,000)."""
RECORDER = """() => {
  window.mjSeen = new Set();
  const record = () => {
    for (const li of document.querySelectorAll('#timeline li.msg')) {
      // textContent: innerText is empty for a message not laid out yet (content-visibility)
      window.mjSeen.add((li.querySelector('.content')?.textContent || '').trim());
    }
  };
  new MutationObserver(record).observe(document.getElementById('timeline'),
    { childList: true, subtree: true, characterData: true });
  record();
}"""


@pytest.fixture
async def bot(emu: Emulator) -> AsyncIterator[SampleBot]:
    async with running(emu) as sample:
        yield sample


async def open_page(browser: Any, emu: Emulator, width: int = 1200) -> tuple[Any, PageErrors]:
    page = await browser.new_page(viewport={"width": width, "height": 800})
    errors = PageErrors(page)
    await page.goto(emu.url)
    await page.evaluate("window.mjPlayground.ready")
    await page.evaluate(RECORDER)
    return page, errors


def message(page: Any, text: str) -> Any:
    return page.locator("#timeline li.msg", has_text=text)


async def seen(page: Any) -> set[str]:
    return set(await page.evaluate("[...window.mjSeen]"))


async def command(page: Any, text: str) -> None:
    """Type into the message box; a command name followed by a space is chosen, as in Discord."""
    await page.click("#command-input")
    await page.keyboard.type(text)


# -- the command box ------------------------------------------------------------------------------


async def test_slash_lists_the_synced_commands_and_sends_typed_options(
    emu: Emulator, bot: SampleBot, browser: Any, artefacts: Path
) -> None:
    page, errors = await open_page(browser, emu)
    await command(page, "/")
    names = await page.locator("#popup .item .name").all_text_contents()
    synced = emu.commands(emu.guild_id)
    expected = sorted(
        [f"/{c['name']}" for c in synced if c["name"] != "config"] + ["/config advanced set"]
    )
    assert names == expected
    descriptions = await page.locator("#popup .item .description").all_text_contents()
    assert "Echo text, reply with the file reversed" in descriptions
    await screenshot(page, artefacts, "client command list")
    await page.keyboard.type("conf")
    assert await page.locator("#popup .item .name").all_text_contents() == ["/config advanced set"]
    await page.keyboard.press("Enter")
    assert await page.input_value("#command-input") == "/config advanced set key: "
    chips = await page.locator("#options-bar .option-chip").all_text_contents()
    assert chips == [
        "key*text",
        "value*integer",
        "fasttrue/false, optional",
        "rationumber, optional",
    ]
    await page.keyboard.type("steps value: 3x")
    await page.keyboard.press("Enter")
    assert await page.text_content("#composer-error") == "value: must be a whole number"
    await page.keyboard.press("Backspace")
    await page.keyboard.type("0 fast: tr")
    assert await page.locator("#popup .item .name").all_text_contents() == ["True"]
    await page.keyboard.press("Enter")  # takes the suggestion
    await page.keyboard.press("Enter")  # sends
    reply = message(page, "steps=30 fast=True ratio=1.0")
    await reply.wait_for()
    context = reply.locator(".reply-context")
    assert await context.locator(".who").text_content() == "alice"
    assert await context.locator(".command").text_content() == "/config advanced set"
    (rec,) = [r for r in emu.interactions if r.command_name == "config"]
    options = rec.payload["data"]["options"][0]["options"][0]["options"]
    assert options == [
        {"name": "key", "type": 3, "value": "steps"},
        {"name": "value", "type": 4, "value": 30},
        {"name": "fast", "type": 5, "value": True},
    ]
    assert await page.input_value("#command-input") == ""
    assert not errors.errors
    emu.assert_no_violations()


async def test_an_attachment_option_opens_a_file_picker(
    emu: Emulator, bot: SampleBot, browser: Any, tmp_path: Path
) -> None:
    upload = tmp_path / "in.bin"
    upload.write_bytes(b"abc123")
    page, errors = await open_page(browser, emu)
    await command(page, "/echo text: hi")
    async with page.expect_file_chooser() as chooser:
        await page.click("#options-bar .option-chip[data-option=file]")
    await (await chooser.value).set_files(str(upload))
    assert "in.bin" in await page.text_content("#options-bar .option-chip[data-option=file]")
    await page.keyboard.press("Enter")
    reply = message(page, "echo: hi (6 bytes)")
    await reply.wait_for()
    assert await reply.locator(".attachment-file a").text_content() == "rev.bin"
    (rec,) = [r for r in emu.interactions if r.command_name == "echo"]
    (sent,) = rec.payload["data"]["resolved"]["attachments"].values()
    assert emu.attachment_bytes(int(sent["id"])) == b"abc123"
    assert not errors.errors


async def test_autocomplete_offers_the_bots_choices(
    emu: Emulator, bot: SampleBot, browser: Any, artefacts: Path
) -> None:
    page, errors = await open_page(browser, emu)
    await command(page, "/colour name: re")
    items = page.locator("#popup .item .name")
    await items.first.wait_for()
    assert await items.all_text_contents() == ["Red", "Green", "Rebeccapurple"]
    assert bot.autocompleted[-1] == "re"
    await screenshot(page, artefacts, "client autocomplete")
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    assert await page.input_value("#command-input") == "/colour name: green "
    await page.keyboard.type("shade: ")
    assert await page.locator("#popup .item .name").all_text_contents() == ["light", "dark"]
    await page.keyboard.type("da")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await message(page, "colour green (dark)").wait_for()
    assert not errors.errors
    emu.assert_no_violations()


async def test_a_form_opens_as_a_dialog_and_is_checked_before_it_is_sent(
    emu: Emulator, bot: SampleBot, browser: Any, artefacts: Path
) -> None:
    page, errors = await open_page(browser, emu)
    await command(page, "/feedback ")
    await page.keyboard.press("Enter")
    dialog = page.locator("dialog#modal")
    await dialog.wait_for()
    assert await dialog.locator("header").text_content() == "Feedback"
    labels = await dialog.locator(".field label").all_text_contents()
    assert labels == ["Your feedback*", "Rating*"]
    await screenshot(page, artefacts, "client modal")
    await dialog.locator("button.submit").click()
    assert await dialog.locator(".field-error").all_text_contents() == [
        "This field is required",
        "Pick at least 1",
    ]
    await dialog.locator("#modal-fb\\:text").fill("great")
    await dialog.locator("select").select_option("good")
    await dialog.locator("button.submit").click()
    await message(page, "thanks alice: great (good)").wait_for()
    assert not await dialog.is_visible()
    assert not errors.errors
    emu.assert_no_violations()


# -- what the bot sends ---------------------------------------------------------------------------


async def test_a_select_menu_answers_only_to_whoever_chose(
    emu: Emulator, bot: SampleBot, browser: Any
) -> None:
    page, errors = await open_page(browser, emu)
    await command(page, "/pick ")
    await page.keyboard.press("Enter")
    menu = message(page, "pick one").locator(".select-menu")
    await menu.wait_for()
    await menu.locator("button").first.click()
    await menu.locator(".option[data-value=blue]").click()
    reply = message(page, "picked blue")
    await reply.wait_for()
    assert "Only you can see this" in (await reply.text_content() or "")
    bob = str(emu.bob.id)
    await page.select_option("#user-switch", bob)
    await reply.wait_for(state="detached")
    await page.select_option("#user-switch", str(emu.alice.id))
    await reply.wait_for()
    assert not errors.errors


async def test_thinking_then_follow_ups_then_an_edit(
    emu: Emulator, bot: SampleBot, browser: Any
) -> None:
    page, errors = await open_page(browser, emu)
    await command(page, "/slow ")
    await page.keyboard.press("Enter")
    await message(page, "part 2").wait_for()
    await message(page, "done").wait_for()
    history = await seen(page)
    assert "mjbot is thinking..." in history
    assert "part 1" in history  # the follow-up that replaced the loading message, before its edit
    contents = await page.locator("#timeline li.msg .content").all_inner_texts()
    assert contents == ["done(edited)", "part 2"]
    assert not errors.errors


async def test_edits_and_deletions_show_live(emu: Emulator, bot: SampleBot, browser: Any) -> None:
    page, errors = await open_page(browser, emu)
    await command(page, "/post ")
    await page.keyboard.press("Enter")
    await emu.wait_for(lambda: any(m.deleted for m in emu.messages(include_deleted=True)))
    await message(page, "final").wait_for(state="detached")
    assert {"draft", "final(edited)"} <= await seen(page)
    assert await page.locator("#timeline li.msg .content").all_inner_texts() == ["posting"]
    assert not errors.errors


async def test_a_rich_message_renders_like_discord(
    emu: Emulator, bot: SampleBot, browser: Any, artefacts: Path
) -> None:
    page, errors = await open_page(browser, emu)
    await command(page, "/rich ")
    await page.keyboard.press("Enter")
    rich = message(page, "made")
    await rich.wait_for()
    await screenshot(page, artefacts, "client rich message")
    assert await rich.locator(".content strong").text_content() == "Hello"
    assert await rich.locator(".content .mention").text_content() == "@alice"
    assert await rich.locator(".content time.timestamp").text_content() == "2 minutes ago"
    embed = rich.locator(".embed")
    assert await embed.evaluate("e => getComputedStyle(e).borderLeftColor") == "rgb(87, 242, 135)"
    assert await embed.locator(".embed-title").text_content() == "A rich embed"
    assert await embed.locator(".embed-description").inner_text() == "bold and @alice"
    fields = await embed.locator(".embed-field").all_inner_texts()
    assert fields == ["Seed\n42", "Size\n64×48", "Prompt\na red fox"]
    assert await embed.locator(".embed-field.inline").count() == 2
    assert await embed.locator(".embed-footer").text_content() == "the footer"
    image = embed.locator("img.embed-image")
    src = await image.get_attribute("src")
    assert src is not None
    assert src.endswith("/picture.png")
    assert await rich.locator(".attachments").count() == 0  # the embed shows the file
    link = rich.locator("a.component-button")
    assert (await link.get_attribute("href"), await link.get_attribute("target")) == (
        "https://example.com/editor",
        "_blank",
    )
    assert await rich.locator("button[data-custom-id='rich:off']").is_disabled()
    assert await rich.locator("button[data-custom-id='rich:re']").inner_text() == "🔄"
    await image.click()
    assert await page.get_attribute("#lightbox-image", "src") == src
    await page.keyboard.press("Escape")
    assert await page.is_hidden("#lightbox")
    assert not errors.errors


async def test_reactions_reach_the_bot(emu: Emulator, bot: SampleBot, browser: Any) -> None:
    page, errors = await open_page(browser, emu)
    await command(page, "/ping ")
    await page.keyboard.press("Enter")
    pong = message(page, "pong")
    await pong.wait_for()
    await pong.hover()
    await pong.locator(".add-reaction").click()
    await page.click("#emoji-picker button[data-emoji='❌']")
    chip = pong.locator(".reaction[data-emoji='❌']")
    await chip.wait_for()
    assert await chip.get_attribute("class") == "reaction mine"
    assert await chip.locator(".count").text_content() == "1"
    (msg,) = [m for m in emu.messages() if m.content == "pong"]
    await emu.wait_for(lambda: bot.reactions)
    assert bot.reactions == [("❌", emu.alice.id, msg.id)]
    await pong.hover()
    await pong.locator(".add-reaction").click()
    await page.fill("#emoji-picker input", "🦊")
    await page.press("#emoji-picker input", "Enter")
    await pong.locator(".reaction[data-emoji='🦊']").wait_for()
    await chip.click()  # clicking your own reaction takes it back
    await chip.wait_for(state="detached")
    assert msg.reactions == {"🦊": [emu.alice.id]}
    assert not errors.errors


async def test_a_dm_from_the_bot_appears_in_the_dm_list(
    emu: Emulator, bot: SampleBot, browser: Any
) -> None:
    page, errors = await open_page(browser, emu)
    await command(page, "/dm ")
    await page.keyboard.press("Enter")
    dm_button = page.locator("#dms button")
    await dm_button.wait_for()
    assert "unread" in (await dm_button.get_attribute("class") or "")
    await dm_button.click()
    await message(page, "hello in private").wait_for()
    assert await page.text_content("#channel-name") == "mjbot"
    await page.select_option("#user-switch", str(emu.bob.id))  # bob has no DMs yet
    assert await page.locator("#dms button").count() == 0
    assert await page.text_content("#channel-name") == "general"
    assert not errors.errors


# -- people --------------------------------------------------------------------------------------


async def test_people_post_text_and_images_and_nothing_they_type_is_html(
    emu: Emulator, bot: SampleBot, browser: Any, tmp_path: Path
) -> None:
    picture = tmp_path / "fox.png"
    picture.write_bytes(png(120, 80))
    page, errors = await open_page(browser, emu)
    await command(page, "<img src=x onerror=alert(1)> **safe**")
    async with page.expect_file_chooser() as chooser:
        await page.click("#attach")
    await (await chooser.value).set_files(str(picture))
    await page.keyboard.press("Enter")
    posted = message(page, "safe")
    await posted.wait_for()
    assert await posted.locator(".content img").count() == 0
    assert await posted.locator(".content").inner_text() == "<img src=x onerror=alert(1)> safe"
    image = posted.locator(".attachment-image img")
    assert (await image.get_attribute("width"), await image.get_attribute("height")) == (
        "120",
        "80",
    )
    (sent,) = [m for m in emu.messages() if "safe" in m.content]
    assert sent.author_id == emu.alice.id
    assert emu.attachment_bytes(sent.attachments[0]) == picture.read_bytes()
    assert bot.seen == [""]  # without the message-content intent Discord sends it blank
    assert not errors.errors


# -- rules and history ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["too_large", "ack_deadline"])
async def test_broken_rules_show_as_notices(
    emu: Emulator, bot: SampleBot, browser: Any, artefacts: Path, kind: str
) -> None:
    page, _ = await open_page(browser, emu)
    if kind == "too_large":
        emu.set_upload_limit(1000)
        await command(page, "/upload size: 5000")
    else:
        await command(page, "/sleepy ")
    await page.keyboard.press("Enter")
    notice = page.locator(f"#timeline li.notice[data-kind={kind}]")
    await notice.wait_for(timeout=10_000)
    assert "Discord would refuse this" in await notice.inner_text()
    if kind == "ack_deadline":
        pending = page.locator("#timeline li.pending")
        assert await pending.locator(".reply-context").text_content() == "alice used /sleepy"
        assert await pending.locator(".content").text_content() == "The application did not respond"
        bot.gate.set()
    await screenshot(page, artefacts, f"client notice {kind}")
    assert emu.violations_of(kind)


async def test_a_long_channel_opens_at_the_end_and_pages_back_to_the_start(
    emu: Emulator, browser: Any
) -> None:
    world, ch = emu.world, emu.channel()
    thumbnail = UploadedFile(0, "thumb.png", "image/png", png(32, 32))
    for number in range(LONG_CHANNEL):
        files = [thumbnail] if number % 50 == 0 else []
        world.create_message(ch, emu.alice.id, {"content": f"message **{number}**"}, files)
    page, errors = await open_page(browser, emu)
    contents = page.locator("#timeline li.msg .content")
    assert await contents.count() == 50
    assert await contents.last.text_content() == f"message {LONG_CHANNEL - 1}"
    # Each poll scrolls to the top, which asks for the page before.
    await page.wait_for_function(
        """(count) => {
            document.getElementById('scroller').scrollTop = 0;
            return document.querySelectorAll('#timeline li.msg').length === count;
        }""",
        arg=LONG_CHANNEL,
        polling=100,
        timeout=90_000,
    )
    assert await contents.all_text_contents() == [f"message {n}" for n in range(LONG_CHANNEL)]
    assert await page.text_content("#history-top") == "This is the beginning of #general."
    assert not errors.errors
