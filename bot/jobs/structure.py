"""Retexture and Change Background jobs: their options' checks and their specs — shared by
``/retexture``, ``/background`` and the buttons under single images.

A job's image is an earlier job's image or an upload or link (pending until its launch stores
it, like a style transfer's); the prompt is our prompt language (its references too).
"""

from __future__ import annotations

from dataclasses import replace

from bot.errors import UserError
from bot.jobs.references import wanted_references
from bot.jobs.spec import Background, JobSpec, ReferenceSpec, Retexture, SourceImage
from engine.request import StructureKind
from parser import Prompt

__all__ = [
    "BACKGROUND_LABEL",
    "NO_SEGMENTER",
    "RETEXTURE_LABEL",
    "STRENGTH_DEFAULT",
    "STRENGTH_RANGE",
    "STRUCTURES",
    "background_spec",
    "parse_structure",
    "retexture_spec",
]

RETEXTURE_LABEL = "Retexture"
BACKGROUND_LABEL = "Change Background"
NO_SEGMENTER = UserError(
    "This server finds no subjects by itself (MJ_SEGMENTER is none): use /background with a "
    "mask (a PNG of the image's size, white = keep).",
    title="Mark the subject",
)
STRENGTH_RANGE = (0, 100)
STRENGTH_DEFAULT = 50
STRUCTURES = {
    StructureKind.EDGES: "Edges — outlines and detail",
    StructureKind.DEPTH: "Depth — the volumes, not the outlines",
    StructureKind.SKETCH: "Sketch — the lines of a drawing",
}


def parse_structure(text: str) -> StructureKind:
    """A structure typed in a form; :class:`UserError` listing the three."""
    try:
        return StructureKind(text.strip().lower() or StructureKind.EDGES)
    except ValueError:
        raise UserError(
            f"structure must be edges, depth or sketch (got {text.strip()!r}).",
            title="Invalid parameter",
        ) from None


def retexture_spec(
    prompt: Prompt,
    image: SourceImage | ReferenceSpec,
    structure: StructureKind = StructureKind.EDGES,
    strength: int = STRENGTH_DEFAULT,
) -> JobSpec:
    """A Retexture grid of ``image``: the prompt's look on its ``structure``."""
    spec = JobSpec.from_prompt(prompt, references=wanted_references(prompt))
    return replace(spec, work=Retexture(image, structure, strength))


def background_spec(
    prompt: Prompt, image: SourceImage | ReferenceSpec, subject: ReferenceSpec | None = None
) -> JobSpec:
    """A Change Background grid of ``image``: its subject kept, the rest from the prompt."""
    spec = JobSpec.from_prompt(prompt, references=wanted_references(prompt))
    return replace(spec, work=Background(image, subject))
