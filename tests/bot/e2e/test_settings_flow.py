"""A user's defaults end to end: /settings, /prefer, /fast /relax /turbo, Remix, variability."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from engine import GenerationRequest, JobCancelledError, WeightedText
from playground import Emulator
from playground.models import InteractionRecord, Message
from tests.bot.e2e.conftest import BotHarness, custom_id, imagine, results, wait_result

GREEN, GREY = 3, 2


def button(message: Message | dict[str, Any], label: str) -> dict[str, Any]:
    components = message.components if isinstance(message, Message) else message["components"]
    for row in components:
        for component in row["components"]:
            name = component.get("label") or (component.get("emoji") or {}).get("name")
            if name == label:
                return dict(component)
    raise AssertionError(f"no {label!r} in {components}")


async def panel(emu: Emulator) -> tuple[InteractionRecord, dict[str, Any]]:
    record = await emu.slash("settings", emu.alice)
    answer = await emu.response_of(record)
    assert answer["data"]["flags"] & 64  # only for you
    return record, answer["data"]


async def press(emu: Emulator, record: InteractionRecord, label: str) -> dict[str, Any]:
    """Press a panel button; the panel is redrawn in place (an UPDATE_MESSAGE response)."""
    assert record.original_message is not None
    data = record.original_message.components
    clicked = await emu.click(
        record.original_message.id, button({"components": data}, label)["custom_id"]
    )
    answer = await emu.response_of(clicked)
    assert answer["type"] == 7
    return dict(answer["data"])


async def reply_text(emu: Emulator, record: InteractionRecord) -> str:
    answer = await emu.response_of(record)
    assert answer["data"]["flags"] & 64
    return str(answer["data"].get("content") or answer["data"]["embeds"][0]["description"])


@pytest.mark.bot_settings(mj_models={"6.1": "builtin:tiny"})
async def test_settings_round_trip_and_persist_across_a_restart(
    emu: Emulator, harness: BotHarness
) -> None:
    record, data = await panel(emu)
    assert "Current suffix: none" in data["content"]
    assert button(data, "Stylize med")["style"] == GREEN
    assert button(data, "Fast mode")["style"] == GREEN
    data = await press(emu, record, "Stylize high")
    assert button(data, "Stylize high")["style"] == GREEN
    assert button(data, "Stylize med")["style"] == GREY
    data = await press(emu, record, "RAW Mode")
    data = await press(emu, record, "Relax mode")
    assert record.original_message is not None
    chosen = await emu.select(record.original_message.id, "mjs:version", ["6.1"], emu.alice)
    data = (await emu.response_of(chosen))["data"]
    assert "Current suffix: `--v 6.1 --style raw --s 250`" in data["content"]

    await harness.restart()
    record, data = await panel(emu)
    assert "`--v 6.1 --style raw --s 250`" in data["content"]
    assert button(data, "Relax mode")["style"] == GREEN
    await imagine(emu, "a cat")
    await wait_result(emu, r"^\*\*a cat --v 6\.1 --style raw --s 250\*\* - <@\d+> \(relaxed\)$")
    # Explicit parameters win over the settings, for that prompt only.
    await imagine(emu, "a dog --s 20 --fast")
    await wait_result(emu, r"^\*\*a dog --s 20 --fast --v 6\.1 --style raw\*\* - <@\d+> \(fast\)$")
    data = await press(emu, record, "Reset Settings")
    assert "Current suffix: none" in data["content"]
    assert button(data, "Relax mode")["style"] == GREEN  # the speed is kept


async def test_suffix_and_options_take_effect_and_explicit_parameters_win(
    emu: Emulator, harness: BotHarness
) -> None:
    alice = emu.alice
    said = await emu.slash(
        "prefer", alice, subcommand="suffix", options={"new_value": "--ar 16:9 --chaos 10"}
    )
    assert "`--ar 16:9 --chaos 10`" in await reply_text(emu, said)
    made = await emu.slash(
        "prefer",
        alice,
        subcommand="option set",
        options={"option": "wide", "value": "--ar 21:9 --s 300"},
    )
    assert "`--wide`" in await reply_text(emu, made)
    listed = await emu.slash("prefer", alice, subcommand="option list")
    assert "`--wide`: `--ar 21:9 --s 300`" in await reply_text(emu, listed)
    await imagine(emu, "a boat --wide")
    await wait_result(emu, r"^\*\*a boat --ar 21:9 --s 300 --chaos 10\*\* - ")
    await imagine(emu, "a car --ar 1:1")
    await wait_result(emu, r"^\*\*a car --ar 1:1 --chaos 10\*\* - ")
    # Bob has none of it.
    await imagine(emu, "a car --seed 1", emu.bob)
    await wait_result(emu, r"^\*\*a car --seed 1\*\* - ")

    refused = await emu.slash(
        "prefer", alice, subcommand="suffix", options={"new_value": "a cat --ar 2:3"}
    )
    answer = await emu.response_of(refused)
    assert "Only parameters" in answer["data"]["embeds"][0]["description"]
    bad_name = await emu.slash(
        "prefer", alice, subcommand="option set", options={"option": "ar", "value": "--s 5"}
    )
    answer = await emu.response_of(bad_name)
    assert "already a parameter" in answer["data"]["embeds"][0]["description"]
    gone = await emu.slash("prefer", alice, subcommand="option set", options={"option": "wide"})
    assert "deleted" in await reply_text(emu, gone)
    cleared = await emu.slash("prefer", alice, subcommand="suffix")
    assert "cleared" in await reply_text(emu, cleared)


async def test_remix_edits_a_variation_and_variability_picks_the_strength(
    emu: Emulator, harness: BotHarness
) -> None:
    alice = emu.alice
    on = await emu.slash("prefer", alice, subcommand="remix")
    assert (await reply_text(emu, on)).startswith("Remix mode turned on!")
    await imagine(emu, "a red house --seed 3")
    grid = await wait_result(emu, r"a red house --seed 3\*\* - <@\d+> \(fast\)$")
    assert button(grid, "V2")["style"] == GREEN  # Remix on: V buttons are green

    opened = await emu.click(grid.id, custom_id(grid, "V2"), alice)
    form = await emu.response_of(opened)
    assert form["type"] == 9
    assert form["data"]["title"] == "Remix Prompt"
    field = form["data"]["components"][0]["components"][0]
    assert field["value"] == "a red house --seed 3"
    bad = await emu.submit_modal(opened, {field["custom_id"]: "a blue house --chaos 500"})
    assert (await emu.response_of(bad))["data"]["embeds"][0]["title"] == "Invalid parameter"
    again = await emu.click(grid.id, custom_id(grid, "V2"), alice)
    await emu.response_of(again)
    await emu.submit_modal(again, {field["custom_id"]: "a blue house --seed 3 --no trees"})
    await wait_result(
        emu, r"^\*\*a blue house --seed 3 --no trees\*\* - Remix \(Strong\) by <@\d+> \(fast\)$"
    )

    # Remix off, Low Variation Mode: V makes a subtle variation at once.
    await emu.response_of(await emu.slash("prefer", alice, subcommand="remix"))
    low = await emu.slash("prefer", alice, subcommand="variability")
    assert "Low Variation Mode" in await reply_text(emu, low)
    await emu.click(grid.id, custom_id(grid, "V1"), alice)
    await wait_result(emu, r"a red house --seed 3\*\* - Variations \(Subtle\) by <@\d+> \(fast\)$")
    # Bob's High Variation Mode (the default) decides for Bob's presses.
    await emu.click(grid.id, custom_id(grid, "V1"), emu.bob)
    await wait_result(emu, r"a red house --seed 3\*\* - Variations \(Strong\) by <@\d+> \(fast\)$")


async def test_relax_jobs_yield_to_fast_jobs(emu: Emulator, harness: BotHarness) -> None:
    assert harness.bot is not None
    relaxed = await emu.slash("relax", emu.bob)
    assert "Relax mode" in await reply_text(emu, relaxed)
    blocker = harness.bot.deps.engine.submit(
        GenerationRequest(prompt=(WeightedText("a long job"),), steps=5000, count=1),
        user_id="someone-else",
    )
    await imagine(emu, "a slow snail", emu.bob)
    await emu.wait_for(lambda: "a slow snail" in _waiting(emu), 15, what="bob's job queued")
    await imagine(emu, "a fast hare", emu.alice)
    await emu.wait_for(lambda: "a fast hare" in _waiting(emu), 15, what="alice's job queued")
    permutations = await imagine(emu, "a {red, blue} snail", emu.bob)
    refusal = await emu.response_of(permutations)
    assert refusal["data"]["embeds"][0]["title"] == "Relax mode"
    # A waiting message is posted just before its job reaches the engine: wait for both there.
    scheduler = harness.bot.deps.engine.scheduler
    queued = await emu.wait_for(
        lambda: len(tickets := scheduler.order()) == 2 and tickets, 15, what="both jobs queued"
    )
    assert [ticket.user_id for ticket in queued] == [str(emu.alice.id), str(emu.bob.id)]
    blocker.cancel()
    with contextlib.suppress(JobCancelledError):
        await blocker.future
    hare = await wait_result(emu, r"a fast hare\*\* - <@\d+> \(fast\)$")
    snail = await wait_result(emu, r"a slow snail\*\* - <@\d+> \(relaxed\)$")
    assert hare.id < snail.id  # submitted second, delivered first
    assert len(results(emu, "snail")) == 1


def _waiting(emu: Emulator) -> str:
    return "\n".join(m.content for m in emu.messages() if "Waiting to start" in m.content)
