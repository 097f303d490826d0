"""``/portrait`` end to end: train with four photos (one rejected with its reason) → progress
with the aligned crops → the portrait recorded; list; imagine → a ranked grid whose buttons
work and whose ✉️ says each cell's likeness; forget → its files and rows gone; and the
refusals (too few usable photos, an unknown portrait, a model that draws only shapes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from playground import Emulator
from playground.models import InteractionRecord, Message
from tests.bot.e2e.conftest import BotHarness, custom_id, image_of, labels, wait_result
from tests.bot.e2e.test_controls import (
    ephemeral_reply,
    free_the_gpu,
    occupy_the_gpu,
    stopped,
    waiting_message,
)

FAST = {"mj_portrait_steps": 6, "mj_portrait_candidates": 5}
TRAINED = r"portrait “me” from 3 photos\*\* - Portrait training by <@\d+> \(fast\)"
PORTRAITS = r"\*\* - Portrait \(studio\) by <@\d+> \(fast\)$"


def rows(harness: BotHarness, query: str) -> list[Any]:
    return harness.database.rows(query)


def store_files(harness: BotHarness) -> set[Path]:
    return {p for p in (harness.data_dir / "images").rglob("*") if p.is_file()}


async def portrait(
    emu: Emulator, action: str, attachments: dict[str, Any] | None = None, **options: Any
) -> InteractionRecord:
    return await emu.slash(
        "portrait", emu.alice, subcommand=action, options=options, attachments=attachments or {}
    )


def embed_of(reply: Message) -> dict[str, Any]:
    embed: dict[str, Any] = reply.embeds[0]
    return embed


def revisions(emu: Emulator, pattern: str) -> Iterator[dict[str, Any]]:
    for message in emu.messages(include_deleted=True):
        for revision in message.revisions:
            if pattern in revision.get("content", ""):
                yield revision


@pytest.mark.bot_settings(**FAST)
async def test_train_list_imagine_and_forget(
    emu: Emulator, harness: BotHarness, photos: dict[str, tuple[str, bytes, str]]
) -> None:
    before = store_files(harness)
    trained = await portrait(emu, "train", photos, name="me")
    answer = embed_of(await ephemeral_reply(emu, trained))
    assert answer["title"] == "Training queued"
    assert answer["fields"][0]["value"].splitlines() == [
        "✅ **me.png** — kept",
        "❌ **wall.png** — no face found",
        "✅ **flipped.jpg** — kept",
        "✅ **closer.png** — kept",
    ]
    done = await wait_result(emu, TRAINED)
    assert "Ready: `/portrait imagine name:me`" in done.content
    assert image_of(emu, done).size == (3 * 128, 128)  # the three aligned crops
    assert labels(done) == []  # crops are no picture to vary
    # progress: "(NN%)" edits of the waiting message, the crops as its preview
    edits = list(revisions(emu, "%) (fast)"))
    assert any("portrait “me”" in edit["content"] for edit in edits)
    assert any(edit.get("attachments") for edit in edits)

    folder = harness.data_dir / "portraits" / str(emu.alice.id) / "me"
    assert sorted(p.name for p in folder.iterdir()) == [
        "best.png",
        "lora.safetensors",
        "portrait.json",
    ]
    [(name, steps, model, hashes)] = rows(
        harness, "SELECT name, steps, base_model, photos FROM portraits"
    )
    assert (name, steps, model, len(json.loads(hashes))) == ("me", 6, "builtin:tiny", 3)
    # stored: the three photos kept and the crops (the rejected wall photo is deleted)
    training = store_files(harness) - before
    assert len(training) == 4

    listed = embed_of(await ephemeral_reply(emu, await portrait(emu, "list")))
    assert listed["description"].startswith("**me** — 3 photos, 6 steps on builtin:tiny")

    # the style option suggests the styles: the two built-in ones and the server's own
    (harness.data_dir / "loras").mkdir(exist_ok=True)
    (harness.data_dir / "loras" / "portrait_styles.json").write_text(
        json.dumps({"noir": {"template": "{prompt}, film noir, black and white"}})
    )
    typed = await emu.autocomplete("portrait", "style", options={"style": ""}, subcommand="imagine")
    assert [c["value"] for c in await emu.choices_of(typed)] == ["studio", "oil painting", "noir"]
    typed = await emu.autocomplete(
        "portrait", "style", options={"style": "OIL"}, subcommand="imagine"
    )
    assert await emu.choices_of(typed) == [
        {
            "name": "oil painting — a classical oil portrait with brush strokes",
            "value": "oil painting",
        }
    ]

    made = await portrait(emu, "imagine", prompt="in a garden --ar 3:4 --seed 40", style="studio")
    grid = await wait_result(emu, PORTRAITS)
    assert image_of(emu, grid).size == (2 * 224, 2 * 304)  # 3:4 cells for tiny's 256²
    assert labels(grid)[0] == ["U1", "U2", "U3", "U4", "🔄"]
    assert (await emu.response_of(made))["type"] == 5
    [(parameters,)] = rows(harness, "SELECT parameters FROM jobs WHERE kind = 'portrait'")
    effective = json.loads(parameters)["effective"]
    ranking = effective["portrait"]
    # the tiny model draws noise: none of the five candidates has a face; the first four
    # (seeds 40–43) are posted, each named as dropped
    assert (ranking["candidates"], ranking["with_one_face"]) == (5, 0)
    assert [cell["seed"] for cell in ranking["cells"]] == [40, 41, 42, 43]
    assert effective["loras"] == {f"portrait:{emu.alice.id}/me": 0.9}
    assert "studio portrait photo" in effective["prompt"][0][0]

    # ✉️: each cell's likeness
    await emu.react(grid.id, "✉️", emu.alice)
    dm = (await emu.wait_for(lambda: emu.dms(emu.alice), 30, what="the ✉️ DM"))[0]
    assert "**Likeness**: 1 no face, 2 no face, 3 no face, 4 no face (0 of 5 candidates" in (
        dm.content
    )

    # V1 keeps the person: the child renders with the face LoRA
    await emu.click(grid.id, custom_id(grid, "V1"), emu.alice)
    await wait_result(emu, r"Variations \(Strong\) by <@\d+> \(fast\)$")
    [(child,)] = rows(harness, "SELECT parameters FROM jobs WHERE kind = 'variation'")
    assert json.loads(child)["effective"]["loras"] == {f"portrait:{emu.alice.id}/me": 0.9}

    # Remix of 🔄 keeps the person, the style and the face LoRA on the edited prompt (it used to
    # send the edited prompt alone: "a portrait request needs the person's face LoRA")
    await emu.response_of(await emu.slash("prefer", emu.alice, subcommand="remix"))
    opened = await emu.click(grid.id, custom_id(grid, "🔄"), emu.alice)
    field = (await emu.response_of(opened))["data"]["components"][0]["components"][0]
    assert field["value"] == "in a garden --ar 3:4 --seed 40"
    await emu.submit_modal(opened, {field["custom_id"]: "by the sea --ar 3:4"})
    remixed = await wait_result(emu, r"^\*\*by the sea --ar 3:4" + PORTRAITS)
    assert image_of(emu, remixed).size == (2 * 224, 2 * 304)
    parameters = rows(harness, "SELECT parameters FROM jobs WHERE kind = 'portrait'")
    effective = json.loads(parameters[-1][0])["effective"]
    assert effective["loras"] == {f"portrait:{emu.alice.id}/me": 0.9}
    assert effective["prompt"][0][0].endswith(
        "a person, by the sea, studio portrait photo, soft light, plain grey backdrop, 85mm"
    )

    forgotten = await ephemeral_reply(emu, await portrait(emu, "forget", name="me"))
    assert forgotten.content.startswith("Forgot **me**")
    assert not folder.exists()
    assert rows(harness, "SELECT * FROM portraits") == []
    assert rows(harness, "SELECT * FROM jobs WHERE kind = 'training'") == []
    # every photo and crop of the training is deleted; the portraits' images stay
    assert not training & store_files(harness)
    assert len(store_files(harness) - before) == 4 + 4 + 4  # the grid, its variations, the remix


@pytest.mark.bot_settings(**FAST)
async def test_refusals_and_cancelling_a_training(
    emu: Emulator, harness: BotHarness, photos: dict[str, tuple[str, bytes, str]]
) -> None:
    before = store_files(harness)
    few = {
        "photo1": photos["photo1"],
        "photo2": photos["photo2"],
        "photo3": ("notes.txt", b"not a photo", "text/plain"),
        "photo4": ("again.png", photos["photo1"][1], "image/png"),
    }
    refused = embed_of(await ephemeral_reply(emu, await portrait(emu, "train", few)))
    assert refused["title"] == "Not enough usable photos"
    assert refused["description"].startswith("1 of your photos can be learned from; at least 3")
    assert refused["fields"][0]["value"].splitlines() == [
        "✅ **me.png** — kept",
        "❌ **wall.png** — no face found",
        "❌ **notes.txt** — notes.txt is not an image (PNG, JPEG, WebP or GIF).",
        "❌ **again.png** — the same photo as me.png",
    ]
    assert rows(harness, "SELECT * FROM jobs") == []  # nothing queued
    assert store_files(harness) == before  # and no photo kept

    bad_name = await portrait(emu, "train", photos, name="../x")
    assert embed_of(await ephemeral_reply(emu, bad_name))["description"].startswith(
        "Portrait name '../x': use 1–32 letters"
    )
    unknown = await portrait(emu, "imagine", prompt="at the beach", name="ghost")
    assert embed_of(await ephemeral_reply(emu, unknown))["description"] == (
        "You have no portrait named **ghost**: `/portrait train` first."
    )

    # ❌ stops a training waiting for the GPU; nothing is kept
    blocker = occupy_the_gpu(harness)
    try:
        await portrait(emu, "train", photos, name="me")
        waiting = await waiting_message(emu, harness, "portrait “me” from 3 photos")
        busy = await portrait(emu, "forget", name="me")
        assert embed_of(await ephemeral_reply(emu, busy))["title"] == "Busy"
        await emu.click(waiting.id, custom_id(waiting, "❌"), emu.alice)
        final = await stopped(emu, waiting)
        assert final.content.endswith(f"Portrait training by <@{emu.alice.id}> (Stopped)")
    finally:
        await free_the_gpu(blocker)
    assert not (harness.data_dir / "portraits" / str(emu.alice.id) / "me").exists()
    assert rows(harness, "SELECT * FROM portraits") == []


@pytest.mark.bot_settings(mj_model="builtin:shapes")
async def test_a_model_that_draws_only_shapes_refuses_portraits(
    emu: Emulator, harness: BotHarness, photos: dict[str, tuple[str, bytes, str]]
) -> None:
    record = await portrait(emu, "train", photos)
    answer = embed_of(await ephemeral_reply(emu, record))
    assert answer["title"] == "Portraits unavailable"
    assert "draws only shapes, not people" in answer["description"]
    assert (await emu.response_of(record))["type"] == 4  # refused at once, nothing read


@pytest.mark.bot_settings(mj_portrait_steps=150)
async def test_a_training_cut_by_a_restart_runs_again_and_is_delivered_once(
    emu: Emulator, harness: BotHarness, photos: dict[str, tuple[str, bytes, str]]
) -> None:
    await portrait(emu, "train", photos, name="me")
    waiting = await waiting_message(emu, harness, "portrait “me” from 3 photos")
    await emu.wait_for(lambda: "%)" in emu.message(waiting.id).content, 30, what="training")
    await harness.restart()
    await wait_result(emu, TRAINED, timeout=120)
    await emu.wait_for(lambda: rows(harness, "SELECT name FROM portraits"), 15, what="the row")
    assert len([m for m in emu.messages() if "Ready: `/portrait imagine" in m.content]) == 1
    [(status, attempts)] = rows(harness, "SELECT status, attempts FROM jobs")
    assert status == "done"
    assert attempts == 2  # started twice: before and after the restart
    folder = harness.data_dir / "portraits" / str(emu.alice.id)
    assert sorted(p.name for p in folder.iterdir()) == ["me"]  # no partial files left
