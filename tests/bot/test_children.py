"""Child jobs: what each button makes from its parent, as a pure function."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.errors import UserError
from bot.jobs import children
from bot.jobs.portraits import portraits_spec
from bot.jobs.records import JobParameters, JobView
from bot.jobs.references import reuse, wanted_references
from bot.jobs.spec import (
    Imagine,
    JobSpec,
    Outpaint,
    ReferenceSpec,
    Role,
    SourceImage,
    StoredFile,
    Upscale,
    Variation,
)
from db import JobKind, JobMode
from engine.loras import LoraUse
from engine.portrait.imagine import FACE_WEIGHT
from engine.portrait.library import token_for
from engine.portrait.styles import PortraitStyle
from engine.request import PanDirection, Strength
from parser import parse_one

JOB = "11111111-2222-3333-4444-555555555555"


def parent(
    text: str = "a fox --stop 40 --q .5 --chaos 30 --ar 3:2", kind: JobKind = JobKind.IMAGINE
) -> JobView:
    spec = JobSpec.from_prompt(parse_one(text), (1, 2, 3, 4))
    return JobView(
        JOB, 7, 8, 9, kind, JobMode.RELAX, text, text, None, 10, JobParameters(spec, "Zoom Out")
    )


def test_children_start_from_an_image_with_new_seeds_and_first_grid_only_parameters() -> None:
    for child, work, count in (
        (
            children.vary(parent(), 2, Strength.SUBTLE),
            Variation(SourceImage(JOB, 2), Strength.SUBTLE),
            4,
        ),
        (
            children.upscale(parent(), 0, Strength.STRONG),
            Upscale(SourceImage(JOB, 0), Strength.STRONG),
            1,
        ),
        (children.zoom_out(parent(), 1, 1.5), Outpaint(SourceImage(JOB, 1), zoom=1.5), 4),
        (
            children.pan(parent(), 3, PanDirection.DOWN),
            Outpaint(SourceImage(JOB, 3), pan=PanDirection.DOWN),
            4,
        ),
        (children.make_square(parent(), 1), Outpaint(SourceImage(JOB, 1), make_square=True), 4),
    ):
        assert child.spec.work == work
        assert len(child.spec.seeds) == count
        assert child.spec.seeds != (1, 2, 3, 4)[:count]
        # --stop and --quality shape a first grid only; everything else is inherited.
        assert (child.spec.settings.stop, child.spec.settings.quality) == (100, 1.0)
        assert (child.spec.settings.chaos, child.spec.aspect) == (30, (3, 2))
    assert children.vary(parent(), 0, Strength.STRONG).label == "Variations (Strong)"
    assert children.upscale(parent(), 0, Strength.SUBTLE).label == "Upscaled (Subtle)"
    assert children.upscale(parent(), 0, Strength.STRONG).label == "Upscaled (Creative)"
    assert children.pan(parent(), 0, PanDirection.LEFT).label == "Pan Left"


def test_reroll_keeps_everything_but_the_seeds() -> None:
    grid = children.reroll(parent())
    assert (grid.kind, grid.spec.settings.stop, grid.spec.settings.quality) == (
        JobKind.REROLL,
        40,
        0.5,
    )
    assert isinstance(grid.spec.work, Imagine)
    zoom = parent()
    zoom = replace(
        zoom,
        kind=JobKind.OUTPAINT,
        parent_index=2,
        parameters=JobParameters(children.zoom_out(zoom, 2, 2.0).spec, "Zoom Out"),
    )
    again = children.reroll(zoom)
    assert (again.kind, again.label, again.index) == (JobKind.OUTPAINT, "Zoom Out", 2)
    assert again.spec.work == Outpaint(SourceImage(JOB, 2), zoom=2.0)


def test_remix_takes_the_edited_prompt_and_keeps_the_operation() -> None:
    varied = children.vary(parent(), 1, Strength.STRONG)
    edited = JobSpec.from_prompt(parse_one("a wolf --ar 1:1 --seed 5 --stop 50"))
    remixed = children.remix(varied, edited, (), seed_given=True)
    assert remixed.label == "Remix (Strong)"
    assert remixed.spec.work == varied.spec.work
    assert remixed.spec.seeds == varied.spec.seeds  # a variation keeps its seeds
    assert remixed.spec.aspect == (3, 2)  # and its source's shape
    assert remixed.spec.settings.prompt[0].text == "a wolf"
    assert remixed.spec.settings.stop == 100
    rerolled = children.remix(children.reroll(parent()), edited, (), seed_given=True)
    assert (rerolled.spec.aspect, rerolled.spec.seeds) == ((1, 1), (5, 6, 7, 8))
    assert rerolled.spec.settings.stop == 50  # a new first grid


def test_an_edited_prompt_reuses_the_parents_stored_references() -> None:
    file = StoredFile("images/a.png", "a" * 64)
    known = (ReferenceSpec(Role.IMAGE, url="https://e.x/a.png", file=file, width=3, height=4),)
    wanted = wanted_references(parse_one("https://e.x/a.png https://e.x/b.png a cat --sref 9"))
    reused = reuse(wanted, known)
    assert [(r.url, r.file, r.pending) for r in reused] == [
        ("https://e.x/a.png", file, False),
        ("https://e.x/b.png", None, True),
        (None, None, False),
    ]


def portrait_parent(style: PortraitStyle | None) -> JobView:
    spec = portraits_spec(
        parse_one("on a beach --lora film::0.4"),
        7,
        "me",
        style=style,
        candidates=8,
        version="tiny-v",
    )
    return JobView(
        JOB, 7, 8, 9, JobKind.PORTRAIT, JobMode.RELAX, "on a beach", "on a beach", None, 10,
        JobParameters(spec, "Portrait"),
    )  # fmt: skip


OIL = PortraitStyle("oil", "oil painting of {prompt}, brush strokes", lora="brush", weight=0.5)


def test_a_remixed_portrait_stays_the_person_in_its_style_on_its_model() -> None:
    """Remix used to take the edited prompt alone: a reroll lost the face LoRA (the job failed)
    and a variation drifted to a stranger in another style and model."""
    token = token_for("me")
    face, brush = LoraUse("portrait:7/me", FACE_WEIGHT), LoraUse("brush", 0.5)
    parent_spec = portrait_parent(OIL).spec
    expected = f"{token}, a person, oil painting of on a beach, brush strokes"
    assert parent_spec.settings.prompt[0].text == expected
    assert parent_spec.settings.loras == (face, brush, LoraUse("film", 0.4))
    edited = JobSpec.from_prompt(parse_one("in a forest --lora brush::0.9 --lora grain"))
    for child in (
        children.reroll(portrait_parent(OIL)),
        children.vary(portrait_parent(OIL), 1, Strength.SUBTLE),
    ):
        remixed = children.remix(child, edited, ())
        settings = remixed.spec.settings
        expected = f"{token}, a person, oil painting of in a forest, brush strokes"
        assert settings.prompt[0].text == expected
        assert settings.loras == (face, brush, LoraUse("grain", None))
        assert settings.version == "tiny-v"
        assert remixed.spec.work == child.spec.work
        # Stored and read back (the job's parameters), the person is still there.
        assert JobSpec.from_json(remixed.spec.to_json()) == remixed.spec


def test_a_portrait_without_a_style_keeps_the_prompt_as_written() -> None:
    child = children.reroll(portrait_parent(None))
    remixed = children.remix(child, JobSpec.from_prompt(parse_one("at night")), ())
    assert remixed.spec.settings.prompt[0].text == f"{token_for('me')}, a person, at night"
    assert remixed.spec.settings.loras == (LoraUse("portrait:7/me", FACE_WEIGHT),)


def test_a_remixed_portrait_refuses_another_model() -> None:
    child = children.reroll(portrait_parent(OIL))
    with pytest.raises(UserError, match="leave `--v` out"):
        children.remix(child, JobSpec.from_prompt(parse_one("at night --v 5")), ())
