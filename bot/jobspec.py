"""A job's recipe, stored as JSON on its row, and the engine request rebuilt from it.

Everything an operation needs is in the spec (prompt parts, parameters, seeds resolved at
creation, source image, outpaint settings), so a job can be re-run after a restart and any
button can start a child job from the database alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from bot.convert import request_from_prompt
from engine.request import (
    GenerationRequest,
    Operation,
    OutpaintSpec,
    PanDirection,
    Reference,
    ReferenceRole,
    Strength,
    WeightedText,
)
from parser import Prompt

__all__ = ["SourceRef", "request_from_spec", "spec_from_prompt", "stored_references"]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """An image of an earlier job: its id and the 0-based image index."""

    job_id: str
    index: int


def spec_from_prompt(prompt: Prompt, seeds: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The spec of an ``imagine`` job for ``prompt``, its per-image seeds resolved now (from
    ``--seed``, else random) unless given, so a re-run after a restart renders the same."""
    request = request_from_prompt(prompt)
    seeds = seeds if seeds is not None else request.resolved_seeds()
    return {
        "operation": str(Operation.IMAGINE),
        "prompt": [[p.text, p.weight] for p in request.prompt],
        "negative": list(request.negative),
        "aspect": list(request.aspect),
        "seeds": list(seeds),
        "chaos": request.chaos,
        "stylize": request.stylize,
        "stop": request.stop,
        "quality": request.quality,
        "tile": request.tile,
        "weird": request.weird,
        "version": request.version,
        "iw": request.image_weight,
        "sw": request.style_weight,
        "cw": request.character_weight,
        "references": [],
    }


ROLES = {"image": ReferenceRole.IMAGE, "sref": ReferenceRole.STYLE, "cref": ReferenceRole.CHARACTER}


def request_from_spec(
    spec: dict[str, Any],
    source: Image.Image | None = None,
    mask: Image.Image | None = None,
    references: tuple[Reference, ...] = (),
) -> GenerationRequest:
    """The engine request for a spec (``source``, ``mask`` and the reference images already
    loaded from storage: see :func:`stored_references`)."""
    outpaint = spec.get("outpaint")
    seeds = tuple(int(s) for s in spec["seeds"])
    return GenerationRequest(
        operation=Operation(spec["operation"]),
        prompt=tuple(WeightedText(str(t), float(w)) for t, w in spec["prompt"]),
        negative=tuple(spec.get("negative", ())),
        aspect=(int(spec["aspect"][0]), int(spec["aspect"][1])),
        count=len(seeds),
        seeds=seeds,
        chaos=int(spec.get("chaos", 0)),
        stylize=int(spec.get("stylize", 100)),
        stop=int(spec.get("stop", 100)),
        quality=float(spec.get("quality", 1.0)),
        tile=bool(spec.get("tile", False)),
        weird=int(spec.get("weird", 0)),
        version=spec.get("version"),
        strength=Strength(spec.get("strength", Strength.STRONG)),
        source=source,
        mask=mask,
        references=references,
        image_weight=float(spec.get("iw", 1.0)),
        style_weight=int(spec.get("sw", 100)),
        character_weight=int(spec.get("cw", 100)),
        outpaint=None
        if outpaint is None
        else OutpaintSpec(
            zoom=float(outpaint.get("zoom", 1.0)),
            pan=PanDirection(outpaint["pan"]) if outpaint.get("pan") else None,
            make_square=bool(outpaint.get("make_square", False)),
            aspect=tuple(outpaint["aspect"]) if outpaint.get("aspect") else None,
        ),
    )


def stored_references(
    spec: dict[str, Any], read: Callable[[str, str], Image.Image]
) -> tuple[Reference, ...]:
    """The spec's reference images, read with ``read(path, sha256)`` (blocking), and its
    numeric style codes."""
    out = []
    for entry in spec.get("references", ()):
        role = ROLES[entry["role"]]
        weight = float(entry.get("weight", 1.0))
        if entry.get("code") is not None:
            out.append(Reference(role, weight=weight, code=int(entry["code"])))
        else:
            out.append(Reference(role, read(entry["path"], entry["sha256"]), weight))
    return tuple(out)


def source_of(spec: dict[str, Any]) -> SourceRef | None:
    source = spec.get("source")
    return SourceRef(source["job"], int(source["index"])) if source else None
