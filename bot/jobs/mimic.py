"""Reference edit jobs (MimicBrush): their echo (``image + reference``) and their spec —
used by ``/mimic``.

Quick checks on the inputs are the command's (``bot.exts.mimic``); whether a link can be
fetched and an upload is an image are found when the job launches (the reference stage), and
what the engine refuses (a mask of another size, no region, a region over everything) fails
the job visibly with the engine's reason.
"""

from __future__ import annotations

from bot.jobs.spec import JobSpec, Mimic, PromptSettings, ReferenceSpec, SourceImage
from bot.jobs.transfer import short_name
from engine.request import GRID_SIZE, grid_seeds, random_seed

__all__ = ["LABEL", "mimic_prompt", "mimic_spec"]

LABEL = "Variations (Reference)"
"""Shown as ``**image + reference** - Variations (Reference) by @user``."""


def mimic_prompt(image: str, reference: str) -> str:
    """The job's echo: ``image + reference`` (names shortened)."""
    return f"{short_name(image)} + {short_name(reference)}"


def mimic_spec(
    image: SourceImage | ReferenceSpec,
    mask: ReferenceSpec,
    reference: ReferenceSpec,
    *,
    keep_shape: bool = False,
    seed: int | None = None,
) -> JobSpec:
    """A four-image reference edit, its seeds drawn now (so a re-run renders the same) like
    the engine draws them: four random ones, or ``seed`` and the three after it."""
    work = Mimic(image=image, mask=mask, reference=reference, keep_shape=keep_shape)
    if seed is None:
        seeds = tuple(random_seed() for _ in range(GRID_SIZE))
    else:
        seeds = grid_seeds(seed, GRID_SIZE)
    return JobSpec(settings=PromptSettings(), seeds=seeds, work=work)
