"""A job's spec: every kind round-trips through JSON, and rows written by earlier versions
(``data/legacy_specs.json``, made by the code before ``JobSpec``) read back to the same request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.jobs.records import JobParameters, JobView, ReplyHandle
from bot.jobs.spec import (
    Imagine,
    JobSpec,
    Outpaint,
    PromptSettings,
    ReferenceSpec,
    Region,
    Role,
    SourceImage,
    StoredFile,
    Upscale,
    Variation,
)
from db import Database, JobKind, NewJob
from db import jobs as repo
from engine.request import Operation, PanDirection, ReferenceRole, Strength, WeightedText
from parser import parse_one

LEGACY: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "legacy_specs.json").read_text(encoding="utf-8")
)
JOB = "11111111-2222-3333-4444-555555555555"
FILE = StoredFile("images/aa/bb/aabb.png", "aabb" * 16)


def legacy(name: str) -> JobSpec:
    entry = LEGACY[name]
    return JobSpec.from_json(entry.get("spec", entry))


def test_legacy_imagine_spec_reads_back_every_parameter() -> None:
    spec = legacy("imagine")
    request = spec.request()
    assert request.operation is Operation.IMAGINE
    assert request.prompt == (WeightedText("a red fox", 2.0), WeightedText("snow", -0.5))
    assert request.negative == ("text", "trees")
    assert (request.aspect, request.seeds) == ((16, 9), (7, 8, 9, 10))
    assert (request.chaos, request.stylize, request.stop, request.quality) == (20, 300, 60, 2.0)
    assert (request.tile, request.weird, request.version) == (True, 10, "6.1")
    assert (request.image_weight, request.style_weight, request.character_weight) == (1.5, 250, 40)
    assert [(r.role, r.weight, r.code, r.file is not None) for r in spec.references] == [
        (Role.IMAGE, 2.0, None, True),
        (Role.STYLE, 3.0, None, True),
        (Role.STYLE, 1.0, 42, False),
        (Role.CHARACTER, 1.0, None, True),
    ]
    assert spec.pending_references == ()


@pytest.mark.parametrize(
    ("name", "work"),
    [
        ("v2", Variation(SourceImage(JOB, 1), Strength.SUBTLE)),  # Low Variation Mode
        ("vary_subtle", Variation(SourceImage(JOB, 0), Strength.SUBTLE)),
        ("up_creative", Upscale(SourceImage(JOB, 2), Strength.STRONG)),
        ("zoom_15", Outpaint(SourceImage(JOB, 3), zoom=1.5)),
        ("pan_up", Outpaint(SourceImage(JOB, 0), pan=PanDirection.UP)),
        ("square", Outpaint(SourceImage(JOB, 1), make_square=True)),
        ("custom_zoom", Outpaint(SourceImage(JOB, 0), zoom=1.5, aspect=(2, 1))),
        ("reroll_of_zoom", Outpaint(SourceImage(JOB, 3), zoom=1.5)),
    ],
)
def test_legacy_children_read_back_their_operation(name: str, work: Any) -> None:
    spec = legacy(name)
    assert spec.work == work
    request = spec.request()
    assert request.operation is work.operation
    if isinstance(work, Outpaint):
        assert request.outpaint is not None
        assert (request.outpaint.zoom, request.outpaint.pan) == (work.zoom, work.pan)
        assert (request.outpaint.make_square, request.outpaint.aspect) == (
            work.make_square,
            work.aspect,
        )
    assert request.count == (1 if name == "up_creative" else 4)


def test_legacy_region_and_oldest_specs() -> None:
    region = legacy("region")
    assert region.work == Region(
        SourceImage(JOB, 1), StoredFile("images/11/22/1122.png", "1122" * 16)
    )
    assert region.seeds == (5, 6, 7, 8)
    oldest = legacy("oldest")  # before reference images: no iw/sw/cw, no references
    request = oldest.request()
    assert (request.image_weight, request.style_weight, request.character_weight) == (1.0, 100, 100)
    assert (request.aspect, request.seeds, oldest.references) == ((2, 3), (3, 4, 5, 6), ())
    assert LEGACY["custom_zoom"]["spec"]["prompt"] == [["a tall tower", 1.0]]
    assert legacy("custom_zoom").settings.prompt == (WeightedText("a tall tower"),)


SPECS = [
    JobSpec.from_prompt(parse_one("a fox --ar 3:2 --chaos 5 --tile --niji 6"), (1, 2, 3, 4)),
    JobSpec(PromptSettings(iw=0.5, sw=900, cw=10), (9,), (1, 1), Upscale(SourceImage(JOB, 3))),
    JobSpec(PromptSettings(), (1, 2, 3, 4), (16, 9), Region(SourceImage(JOB, 0), FILE)),
    JobSpec(
        PromptSettings(negative=("red",)),
        (1, 2, 3, 4),
        (2, 3),
        Outpaint(SourceImage(JOB, 1), zoom=1.25, aspect=(3, 4)),
        (
            ReferenceSpec(Role.IMAGE, 2.0, url="https://e.x/a.png"),  # pending
            ReferenceSpec(Role.IMAGE, url="https://cdn.x/b.png", upload=True, size=1234),
            ReferenceSpec(Role.STYLE, 0.5, code=7),
            ReferenceSpec(Role.CHARACTER, url="https://e.x/c.png", file=FILE, width=8, height=9),
        ),
    ),
    JobSpec(PromptSettings(), (5, 6, 7, 8), work=Variation(SourceImage(JOB, 2), Strength.SUBTLE)),
    JobSpec(
        PromptSettings(), (5, 6, 7, 8), work=Outpaint(SourceImage(JOB, 2), pan=PanDirection.LEFT)
    ),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: str(s.operation))
def test_every_kind_round_trips_through_json(spec: JobSpec) -> None:
    assert JobSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


@pytest.mark.parametrize("name", [n for n in LEGACY if n != "oldest"] + ["oldest"])
def test_legacy_specs_round_trip_unchanged(name: str) -> None:
    spec = legacy(name)
    assert JobSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec


def test_pending_references_are_told_apart() -> None:
    spec = SPECS[3]
    assert [r.url for r in spec.pending_references] == ["https://e.x/a.png", "https://cdn.x/b.png"]
    roles = [r.role.engine_role for r in spec.references]
    assert roles == [
        ReferenceRole.IMAGE,
        ReferenceRole.IMAGE,
        ReferenceRole.STYLE,
        ReferenceRole.CHARACTER,
    ]


def test_parameters_keep_feature_data_and_the_reply() -> None:
    reply = ReplyHandle.of(42, "token", created=1000.0)
    parameters = JobParameters(
        SPECS[0], "Zoom Out", 8_000_000, reply, {"steps": 8}, {"describe": {"seed": 3}}
    )
    stored = json.loads(json.dumps(parameters.to_json()))
    assert stored["describe"] == {"seed": 3}
    assert JobParameters.from_json(stored) == parameters
    assert reply.expires == 1000.0 + 15 * 60
    assert not reply.usable  # created long ago


async def test_rows_written_by_the_previous_code_read_back(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'mjbot.db'}")
    await db.migrate()
    entry = LEGACY["v2"]
    parameters = {"spec": entry["spec"], "label": entry["label"], "upload_limit": 8388608}
    new = NewJob(JOB, 7, JobKind.VARIATION, prompt="a red fox", parameters=parameters)
    async with db.session() as session:
        await repo.create_job(session, new)
    async with db.session() as session:
        view = JobView.of(await repo.get_job(session, JOB))
    await db.close()
    assert (view.label, view.parameters.upload_limit) == ("Variations (Subtle)", 8388608)
    assert view.spec == legacy("v2")
    assert isinstance(legacy("imagine").work, Imagine)


def test_style_reaches_the_request_and_round_trips() -> None:
    from engine.request import Style

    raw = JobSpec.from_prompt(parse_one("a fox --style raw --s 300"), (1, 2, 3, 4))
    assert raw.settings.style == "raw"
    assert raw.request().style is Style.RAW
    assert JobSpec.from_json(json.loads(json.dumps(raw.to_json()))) == raw
    house = JobSpec.from_prompt(parse_one("a fox"), (1,))
    assert house.request().style is None  # the house style
    assert legacy("imagine").request().style is None  # rows from before --style counted


async def test_check_prompt_refuses_unknown_and_misplaced_styles() -> None:
    from bot.errors import UserError
    from bot.jobs.prompts import PromptChecks, check_prompt
    from bot.moderation import BannedWords
    from bot.preferences import Preferences
    from engine.models import ModelCatalog

    checks = PromptChecks(BannedWords(), ModelCatalog({"default": "x", "niji": "y"}), 10)
    [ok] = await check_prompt("a fox --niji --style cute", Preferences(), checks, footer="f")
    assert ok.params.style == "cute"
    for text in ("a fox --style cute", "a fox --style banana"):
        with pytest.raises(UserError) as refused:
            await check_prompt(text, Preferences(), checks, footer="f")
        assert refused.value.title == "Invalid parameter"
        assert "--style" in refused.value.message
