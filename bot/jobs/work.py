"""What a job does: one frozen type per operation (their stored JSON: ``bot.jobs.work_json``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from engine.request import Operation, PanDirection, ReferenceRole, Strength, StructureKind

__all__ = [
    "Background",
    "FaceTraining",
    "Imagine",
    "Mimic",
    "Outpaint",
    "Portraits",
    "ReferenceSpec",
    "Region",
    "Retexture",
    "Role",
    "SourceImage",
    "StoredFile",
    "Transfer",
    "Upscale",
    "Variation",
    "Work",
    "pair",
]


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file in the content-addressed image store."""

    path: str
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256}


class Role(StrEnum):
    """How a reference steers the images, as stored (``image`` prompt, ``sref``, ``cref``)."""

    IMAGE = "image"
    STYLE = "sref"
    CHARACTER = "cref"

    @property
    def engine_role(self) -> ReferenceRole:
        return _ENGINE_ROLES[self]


_ENGINE_ROLES = {
    Role.IMAGE: ReferenceRole.IMAGE,
    Role.STYLE: ReferenceRole.STYLE,
    Role.CHARACTER: ReferenceRole.CHARACTER,
}


@dataclass(frozen=True, slots=True)
class ReferenceSpec:
    """One reference of a job: a numeric style ``code``, or an image from ``url``.

    An image reference is *pending* until its file is fetched and stored (a stage of the job
    that survives restarts); ``upload`` marks an image uploaded to Discord, read from its CDN.
    """

    role: Role
    weight: float = 1.0
    code: int | None = None
    url: str | None = None
    file: StoredFile | None = None
    width: int | None = None
    height: int | None = None
    upload: bool = False
    size: int | None = None
    """An upload's declared size in bytes (checked before it is read)."""

    @property
    def pending(self) -> bool:
        return self.code is None and self.file is None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": str(self.role), "weight": self.weight}
        if self.code is not None:
            return {**out, "code": self.code}
        out["url"] = self.url
        if self.file is not None:
            out.update(self.file.to_json(), width=self.width, height=self.height)
        if self.upload:
            out.update(upload=True, size=self.size)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReferenceSpec:
        file = StoredFile(data["path"], data["sha256"]) if data.get("path") else None
        return cls(
            role=Role(data["role"]),
            weight=float(data.get("weight", 1.0)),
            code=int(data["code"]) if data.get("code") is not None else None,
            url=data.get("url"),
            file=file,
            width=data.get("width"),
            height=data.get("height"),
            upload=bool(data.get("upload", False)),
            size=data.get("size"),
        )


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


@dataclass(frozen=True, slots=True)
class Transfer:
    """Style transfer: ``content`` (an earlier job's image, or an upload or link) restyled
    like ``style`` (an upload or link). Uploads and links are references of the job's
    reference stage: *pending* until fetched and stored (``bot.jobs.references``)."""

    content: SourceImage | ReferenceSpec
    style: ReferenceSpec
    strength: int = 100
    """0–1000: the style/content balance (0 = the content unchanged)."""
    size: int | None = None
    """The result's long side; ``None``: the content's."""
    preserve_colors: bool = False
    steps: int | None = None
    """The optimiser's steps; ``None``: the engine's default (``MJ_TRANSFER_STEPS``)."""
    operation: ClassVar[Operation] = Operation.TRANSFER

    @property
    def source(self) -> SourceImage | None:
        """The earlier job's image it restyles, if the content is one."""
        return self.content if isinstance(self.content, SourceImage) else None

    @property
    def images(self) -> tuple[ReferenceSpec, ...]:
        """The uploads and links it needs: the content (unless a job's image), the style."""
        if isinstance(self.content, SourceImage):
            return (self.style,)
        return (self.content, self.style)


@dataclass(frozen=True, slots=True)
class Mimic:
    """Reference edit (MimicBrush): the region ``mask`` (an upload, white = repaint) of
    ``image`` (an earlier job's image, or an upload or link) repainted imitating
    ``reference`` (an upload or link); ``keep_shape`` keeps the region's shapes (depth)."""

    image: SourceImage | ReferenceSpec
    mask: ReferenceSpec
    reference: ReferenceSpec
    keep_shape: bool = False
    operation: ClassVar[Operation] = Operation.MIMIC

    @property
    def source(self) -> SourceImage | None:
        """The earlier job's image it edits, if the image is one."""
        return self.image if isinstance(self.image, SourceImage) else None

    @property
    def images(self) -> tuple[ReferenceSpec, ...]:
        """The uploads and links it needs: the image (unless a job's), the mask, the
        reference."""
        if isinstance(self.image, SourceImage):
            return (self.mask, self.reference)
        return (self.image, self.mask, self.reference)


@dataclass(frozen=True, slots=True)
class FaceTraining:
    """``/portrait train``: ``owner``'s ``photos`` (stored uploads) learned as ``name``."""

    owner: int
    name: str
    photos: tuple[StoredFile, ...]
    steps: int | None = None
    """``None``: the engine's recipe (200 per kept photo)."""
    operation: ClassVar[Operation] = Operation.FACE_TRAINING
    source: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class Portraits:
    """``/portrait imagine``: candidates of ``owner``'s person ``name`` (one per seed; the
    prompt names their token and face LoRA), ranked; the best four are the grid."""

    owner: int
    name: str
    style: str | None = None
    operation: ClassVar[Operation] = Operation.PORTRAIT
    source: ClassVar[None] = None


@dataclass(frozen=True, slots=True)
class Retexture:
    """Retexture: ``image`` (an earlier job's image, or an upload or link) redrawn from the
    prompt keeping its ``structure``; ``strength`` 0–100: how tightly."""

    image: SourceImage | ReferenceSpec
    structure: StructureKind = StructureKind.EDGES
    strength: int = 50
    operation: ClassVar[Operation] = Operation.RETEXTURE

    @property
    def source(self) -> SourceImage | None:
        return self.image if isinstance(self.image, SourceImage) else None

    @property
    def images(self) -> tuple[ReferenceSpec, ...]:
        return (self.image,) if isinstance(self.image, ReferenceSpec) else ()


@dataclass(frozen=True, slots=True)
class Background:
    """Change Background: everything but ``image``'s subject repainted from the prompt; the
    subject is ``subject`` (an uploaded mask, white = keep) or found by the segmenter."""

    image: SourceImage | ReferenceSpec
    subject: ReferenceSpec | None = None
    operation: ClassVar[Operation] = Operation.BACKGROUND

    @property
    def source(self) -> SourceImage | None:
        return self.image if isinstance(self.image, SourceImage) else None

    @property
    def images(self) -> tuple[ReferenceSpec, ...]:
        given = (self.image,) if isinstance(self.image, ReferenceSpec) else ()
        return (*given, self.subject) if self.subject is not None else given


Work = (
    Imagine
    | Variation
    | Upscale
    | Region
    | Outpaint
    | Transfer
    | Mimic
    | FaceTraining
    | Portraits
    | Retexture
    | Background
)


def pair(value: Any) -> tuple[int, int]:
    first, second = value
    return int(first), int(second)
