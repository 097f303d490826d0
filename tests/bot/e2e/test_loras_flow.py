"""``--lora`` end to end: ``/loras`` lists the folder, a prompt's LoRA changes its grid by its
weight and is kept by its variations, and an unknown one is refused by name at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from playground import Emulator
from tests.bot.e2e.conftest import BotHarness, custom_id, image_of, imagine, wait_result
from tests.bot.e2e.test_controls import ephemeral_reply
from tests.bot.e2e.test_transfer_flow import refusal
from tests.engine.test_loras import _save_lora


def effective(harness: BotHarness) -> list[dict[str, Any]]:
    rows = harness.database.rows("SELECT parameters FROM jobs ORDER BY queued_at")
    return [json.loads(p).get("effective", {}) for (p,) in rows]


async def test_loras_are_listed_applied_by_weight_and_kept_by_variations(
    emu: Emulator, harness: BotHarness, shared_models: Path
) -> None:
    folder = harness.data_dir / "loras"
    listed = await emu.slash("loras", emu.alice)
    assert (
        "No LoRAs on this server yet"
        in (await ephemeral_reply(emu, listed)).embeds[0]["description"]
    )
    _save_lora(shared_models, folder, "ink", seed=1)
    (folder / "loras.json").write_text(json.dumps({"ink": {"weight": 0.9, "trigger": "inky"}}))
    listed = await emu.slash("loras", emu.alice)
    assert (await ephemeral_reply(emu, listed)).embeds[0]["description"] == (
        "**ink** (weight 0.9) — adds “inky”"
    )

    await imagine(emu, "a lighthouse --seed 3")
    plain = await wait_result(emu, r"a lighthouse --seed 3\*\* - <@\d+> \(fast\)$")
    await imagine(emu, "a lighthouse --seed 3 --lora ink::1.5")
    inked = await wait_result(emu, r"--lora ink::1\.5\*\* - <@\d+> \(fast\)$")
    difference = np.abs(
        np.asarray(image_of(emu, inked), dtype=int) - np.asarray(image_of(emu, plain), dtype=int)
    )
    assert difference.mean() > 2
    assert effective(harness)[-1]["loras"] == {"ink": 1.5}
    assert ["inky", 1.0] in effective(harness)[-1]["prompt"]

    await emu.click(inked.id, custom_id(inked, "V1"), emu.alice)
    await wait_result(emu, r"Variations \(Strong\) by <@\d+> \(fast\)$")
    assert effective(harness)[-1]["loras"] == {"ink": 1.5}  # the child keeps it

    unknown = await imagine(emu, "a lighthouse --lora nope")
    title, text = await refusal(emu, unknown)
    assert title == "Invalid parameter"
    assert "--lora nope: no such LoRA; available: ink" in text
    assert len(effective(harness)) == 3  # nothing queued
