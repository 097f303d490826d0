"""Child jobs, pure: a parent job and what was pressed → the child's kind, label and spec.

Seeds are new for every child (a reroll keeps the parent's operation and source; the other
children start from one of the parent's images). ``--stop`` and ``--quality`` shape only a
first grid (Midjourney: neither affects upscales), so children render with the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.jobs.portraits import remixed
from bot.jobs.records import JobView
from bot.jobs.spec import (
    Imagine,
    JobSpec,
    Mimic,
    Outpaint,
    PromptSettings,
    ReferenceSpec,
    Region,
    SourceImage,
    StoredFile,
    Upscale,
    Variation,
    Work,
)
from db import JobKind
from engine.request import GRID_SIZE, PanDirection, Strength, random_seed

__all__ = [
    "PAN_LABELS",
    "Child",
    "make_square",
    "pan",
    "reference",
    "region",
    "remix",
    "reroll",
    "upscale",
    "vary",
    "zoom_out",
]

PAN_LABELS = {
    PanDirection.LEFT: "Pan Left",
    PanDirection.RIGHT: "Pan Right",
    PanDirection.UP: "Pan Up",
    PanDirection.DOWN: "Pan Down",
}
_FIRST_GRID_ONLY = PromptSettings()


@dataclass(frozen=True, slots=True)
class Child:
    kind: JobKind
    label: str | None
    spec: JobSpec
    index: int | None
    """The parent's image it starts from (0-based); a reroll keeps the parent's."""


def _seeds(count: int) -> tuple[int, ...]:
    return tuple(random_seed() for _ in range(count))


def _for_child(settings: PromptSettings, work: Work) -> PromptSettings:
    if isinstance(work, Imagine):
        return settings
    return replace(settings, stop=_FIRST_GRID_ONLY.stop, quality=_FIRST_GRID_ONLY.quality)


def _from_image(parent: JobView, work: Work, count: int) -> JobSpec:
    settings = _for_child(parent.spec.settings, work)
    return replace(parent.spec, settings=settings, work=work, seeds=_seeds(count))


def reroll(parent: JobView) -> Child:
    """🔄: the same job with new seeds (a reroll of a grid is a reroll; of anything else, the
    same kind of job again)."""
    spec = parent.spec
    kind = JobKind.REROLL if isinstance(spec.work, Imagine) else parent.kind
    return Child(kind, parent.label, spec.with_seeds(_seeds(len(spec.seeds))), parent.parent_index)


def vary(parent: JobView, index: int, strength: Strength) -> Child:
    """V<n>, Vary (Subtle/Strong): four variations of image ``index`` (0-based)."""
    work = Variation(SourceImage(parent.id, index), strength)
    label = f"Variations ({strength.title()})"
    return Child(JobKind.VARIATION, label, _from_image(parent, work, GRID_SIZE), index)


def upscale(parent: JobView, index: int, strength: Strength) -> Child:
    """Upscale (Subtle) or (Creative: the strong strength)."""
    work = Upscale(SourceImage(parent.id, index), strength)
    label = "Upscaled (Subtle)" if strength is Strength.SUBTLE else "Upscaled (Creative)"
    return Child(JobKind.UPSCALE, label, _from_image(parent, work, 1), index)


def zoom_out(
    parent: JobView,
    index: int,
    zoom: float,
    aspect: tuple[int, int] | None = None,
    settings: PromptSettings | None = None,
) -> Child:
    """Zoom Out 2x/1.5x, or Custom Zoom (with its own ``aspect`` and edited ``settings``)."""
    work = Outpaint(SourceImage(parent.id, index), zoom=zoom, aspect=aspect)
    spec = _from_image(parent, work, GRID_SIZE)
    if settings is not None:
        spec = replace(spec, settings=_for_child(settings, work))
    return Child(JobKind.OUTPAINT, "Zoom Out", spec, index)


def pan(parent: JobView, index: int, direction: PanDirection) -> Child:
    work = Outpaint(SourceImage(parent.id, index), pan=direction)
    return Child(
        JobKind.OUTPAINT, PAN_LABELS[direction], _from_image(parent, work, GRID_SIZE), index
    )


def make_square(parent: JobView, index: int) -> Child:
    work = Outpaint(SourceImage(parent.id, index), make_square=True)
    return Child(JobKind.OUTPAINT, "Make Square", _from_image(parent, work, GRID_SIZE), index)


def region(parent: JobView, index: int, mask: StoredFile) -> Child:
    """Vary (Region): image ``index`` repainted where ``mask`` (stored) is white."""
    work = Region(SourceImage(parent.id, index), mask)
    return Child(JobKind.REGION, "Variations (Region)", _from_image(parent, work, GRID_SIZE), index)


def reference(
    parent: JobView,
    index: int,
    mask: ReferenceSpec,
    wanted: ReferenceSpec,
    *,
    keep_shape: bool,
) -> Child:
    """Vary (Reference): image ``index`` repainted where ``mask`` is white, imitating the
    ``wanted`` reference (MimicBrush); ``keep_shape`` keeps the region's shapes."""
    work = Mimic(SourceImage(parent.id, index), mask, wanted, keep_shape=keep_shape)
    spec = _from_image(parent, work, GRID_SIZE)
    return Child(JobKind.MIMIC, "Variations (Reference)", spec, index)


def remix(
    child: Child,
    edited: JobSpec,
    references: tuple[ReferenceSpec, ...],
    *,
    seed_given: bool = False,
) -> Child:
    """``child`` with an edited prompt (its text, parameters and references) — its source,
    operation and seeds stay; a reroll also takes the new shape, and the new seeds when the
    edit gives ``--seed``. ``Variations (…)`` reads ``Remix (…)``."""
    work = child.spec.work
    settings = _for_child(edited.settings, work)
    person = child.spec.settings.person
    if person is not None:  # a portrait's child stays that person, in that style
        settings = remixed(settings, person, child.spec.settings.version)
    spec = replace(child.spec, settings=settings, references=references)
    if isinstance(work, Imagine):
        spec = replace(spec, aspect=edited.aspect)
        if seed_given:
            spec = spec.with_seeds(edited.seeds)
    label = child.label
    if label and label.startswith("Variations"):
        label = label.replace("Variations", "Remix", 1)
    return Child(child.kind, label, spec, child.index)
