"""What a job does to an earlier job's image: one frozen type per operation, and their
stored JSON (the layout every version has written: ``operation``, ``source``, ``strength``,
``mask``, ``outpaint``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from engine.request import Operation, PanDirection, Strength

__all__ = [
    "Imagine",
    "Outpaint",
    "Region",
    "SourceImage",
    "StoredFile",
    "Upscale",
    "Variation",
    "Work",
    "pair",
    "work_from_json",
    "work_to_json",
]


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file in the content-addressed image store."""

    path: str
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class SourceImage:
    """An image of an earlier job: its id and the 0-based image index."""

    job_id: str
    index: int


@dataclass(frozen=True, slots=True)
class Imagine:
    """Text (and references) to a new grid."""

    operation: ClassVar[Operation] = Operation.IMAGINE


@dataclass(frozen=True, slots=True)
class Variation:
    """V1–V4, Vary (Subtle/Strong): img2img from ``source``."""

    source: SourceImage
    strength: Strength = Strength.STRONG
    operation: ClassVar[Operation] = Operation.VARIATION


@dataclass(frozen=True, slots=True)
class Upscale:
    """Upscale (Subtle/Creative): 2× with a low or higher img2img strength."""

    source: SourceImage
    strength: Strength = Strength.SUBTLE
    operation: ClassVar[Operation] = Operation.UPSCALE


@dataclass(frozen=True, slots=True)
class Region:
    """Vary (Region): inpaint ``source`` where ``mask`` is white."""

    source: SourceImage
    mask: StoredFile
    operation: ClassVar[Operation] = Operation.REGION


@dataclass(frozen=True, slots=True)
class Outpaint:
    """Zoom out (``zoom`` 1–2, optionally to a new ``aspect``), pan, or make square."""

    source: SourceImage
    zoom: float = 1.0
    pan: PanDirection | None = None
    make_square: bool = False
    aspect: tuple[int, int] | None = None
    operation: ClassVar[Operation] = Operation.OUTPAINT


Work = Imagine | Variation | Upscale | Region | Outpaint


def work_to_json(work: Work) -> dict[str, Any]:
    out: dict[str, Any] = {"operation": str(work.operation)}
    if isinstance(work, Imagine):
        return out
    out["source"] = {"job": work.source.job_id, "index": work.source.index}
    if isinstance(work, Variation | Upscale):
        out["strength"] = str(work.strength)
    elif isinstance(work, Region):
        out["mask"] = work.mask.to_json()
    else:
        out["outpaint"] = {
            "zoom": work.zoom,
            "pan": str(work.pan) if work.pan else None,
            "make_square": work.make_square,
            "aspect": list(work.aspect) if work.aspect else None,
        }
    return out


def work_from_json(data: Mapping[str, Any]) -> Work:
    operation = Operation(data.get("operation", Operation.IMAGINE))
    if operation is Operation.IMAGINE:
        return Imagine()
    source = SourceImage(str(data["source"]["job"]), int(data["source"]["index"]))
    if operation is Operation.VARIATION:
        return Variation(source, Strength(data.get("strength", Strength.STRONG)))
    if operation is Operation.UPSCALE:
        return Upscale(source, Strength(data.get("strength", Strength.STRONG)))
    if operation is Operation.REGION:
        return Region(source, StoredFile(data["mask"]["path"], data["mask"]["sha256"]))
    outpaint = data.get("outpaint") or {}
    return Outpaint(
        source,
        zoom=float(outpaint.get("zoom") or 1.0),
        pan=PanDirection(outpaint["pan"]) if outpaint.get("pan") else None,
        make_square=bool(outpaint.get("make_square", False)),
        aspect=pair(outpaint["aspect"]) if outpaint.get("aspect") else None,
    )


def pair(value: Any) -> tuple[int, int]:
    first, second = value
    return int(first), int(second)
