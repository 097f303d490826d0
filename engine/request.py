"""What the engine is asked to do (:class:`GenerationRequest`) and what it returns."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from engine.specs import (
    BackgroundSpec,
    FaceTrainingSpec,
    MimicSpec,
    PortraitSpec,
    RetextureSpec,
    StructureKind,
    TransferOptimizer,
    TransferSpec,
)

if TYPE_CHECKING:
    from PIL import Image

    from engine.loras import LoraUse

__all__ = [
    "GRID_SIZE",
    "SEED_MODULUS",
    "BackgroundSpec",
    "EffectiveParameters",
    "FaceTrainingSpec",
    "GenerationRequest",
    "GenerationResult",
    "MimicSpec",
    "Operation",
    "OutpaintSpec",
    "PanDirection",
    "PortraitSpec",
    "Progress",
    "Reference",
    "ReferenceRole",
    "RetextureSpec",
    "Strength",
    "StructureKind",
    "Style",
    "TransferOptimizer",
    "TransferSpec",
    "WeightedText",
    "grid_seeds",
    "random_seed",
]

GRID_SIZE = 4
SEED_MODULUS = 2**32


class Operation(StrEnum):
    """The kind of work: each maps onto one diffusers pipeline (see ``engine/operations.py``)."""

    IMAGINE = "imagine"
    VARIATION = "variation"
    UPSCALE = "upscale"
    REGION = "region"
    OUTPAINT = "outpaint"
    TRANSFER = "transfer"
    """Neural style transfer of ``source`` toward ``transfer.style`` (no diffusion model)."""
    MIMIC = "mimic"
    """Repaint ``mask`` of ``source`` imitating ``mimic.reference`` (MimicBrush; its own
    models, no text prompt)."""
    FACE_TRAINING = "face_training"
    """Learn a person's face from ``training.photos`` as a LoRA (``engine/portrait/``)."""
    PORTRAIT = "portrait"
    """Candidates of a trained person (the prompt names their token and face LoRA), faces
    fused, ranked by likeness; the best ``count`` are the result."""
    RETEXTURE = "retexture"
    """``source``'s structure (``retexture.structure``) kept through a ControlNet, its look
    from the prompt (``engine/structure/``)."""
    BACKGROUND = "background"
    """Everything but ``source``'s subject repainted from the prompt; the subject's pixels
    pasted back exactly."""


class Strength(StrEnum):
    """Subtle or strong: for variations (V, Vary) and upscales (Subtle, Creative)."""

    SUBTLE = "subtle"
    STRONG = "strong"


class Style(StrEnum):
    """``--style``: ``raw`` drops the house style (the prompt as written); the others are the
    ``--niji`` styles, valid only where a niji model answers the request."""

    RAW = "raw"
    CUTE = "cute"
    EXPRESSIVE = "expressive"
    ORIGINAL = "original"
    SCENIC = "scenic"


class PanDirection(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class WeightedText:
    """One ``::`` part of the prompt; negative weights push the image away from it."""

    text: str
    weight: float = 1.0


class ReferenceRole(StrEnum):
    """How a reference image steers a generation (see ``engine/references.py``)."""

    IMAGE = "image"
    """An image prompt: what the picture shows (``--iw``)."""
    STYLE = "style"
    """A style reference: how it looks, not what it shows (``--sref``, ``--sw``)."""
    CHARACTER = "character"
    """A character reference: who is in it (``--cref``, ``--cw``)."""


@dataclass(frozen=True, slots=True, eq=False)
class Reference:
    """One reference image with its ``::`` weight; a style may instead be a numeric
    ``code`` (``--sref 762351716``), drawn deterministically from the code."""

    role: ReferenceRole
    image: Image.Image | None = None
    weight: float = 1.0
    code: int | None = None


@dataclass(frozen=True, slots=True)
class OutpaintSpec:
    """Zoom out (``zoom`` 1–2, optionally to a new ``aspect``), pan, or make square."""

    zoom: float = 1.0
    pan: PanDirection | None = None
    make_square: bool = False
    aspect: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True, eq=False)
class GenerationRequest:
    """Everything needed to render one job; the effective values are recorded on the result.

    ``source`` is the image that variations, upscales, region edits and outpaints start from;
    ``mask`` (white = repaint) is for region edits. ``seeds`` fixes each image's seed (a
    re-render of one cell passes one seed); without it, ``seed`` gives the grid's seeds
    (``seed, seed+1, …``) and without both they are random.
    """

    operation: Operation = Operation.IMAGINE
    prompt: tuple[WeightedText, ...] = ()
    negative: tuple[str, ...] = ()
    aspect: tuple[int, int] = (1, 1)
    count: int = GRID_SIZE
    seed: int | None = None
    seeds: tuple[int, ...] | None = None
    chaos: int = 0
    stylize: int = 100
    """``--stylize`` 0–1000: the strength of the house style (0 = none) and the freedom from
    the prompt (lower guidance); see ``engine/house_style.py``."""
    style: Style | None = None
    """``--style``: ``None`` is the house style, ``raw`` none, or a niji style."""
    stop: int = 100
    quality: float = 1.0
    tile: bool = False
    weird: int = 0
    version: str | None = None
    strength: Strength = Strength.STRONG
    source: Image.Image | None = None
    mask: Image.Image | None = None
    outpaint: OutpaintSpec | None = None
    transfer: TransferSpec | None = None
    """The style and settings of ``Operation.TRANSFER`` (``source`` is the content)."""
    mimic: MimicSpec | None = None
    """The reference of ``Operation.MIMIC`` (``source`` and ``mask`` are the edit's)."""
    training: FaceTrainingSpec | None = None
    portrait: PortraitSpec | None = None
    retexture: RetextureSpec | None = None
    background: BackgroundSpec | None = None
    steps: int | None = None
    """Overrides the model's step count (benchmarks, tests); ``quality`` scales it."""
    references: tuple[Reference, ...] = ()
    image_weight: float = 1.0
    """``--iw`` 0–3: how much the image prompts count against the text (0 = ignored)."""
    style_weight: int = 100
    """``--sw`` 0–1000: strength of the style references (0 = ignored)."""
    character_weight: int = 100
    """``--cw`` 0–100: 0 copies only the face, 100 also hair and clothes."""
    loras: tuple[LoraUse, ...] = ()
    """``--lora``: LoRAs from the engine's LoRA folder, applied to this job only."""

    def resolved_seeds(self) -> tuple[int, ...]:
        """The per-image seeds this request renders with."""
        if self.seeds is not None:
            return self.seeds
        if self.seed is not None:
            return grid_seeds(self.seed, self.count)
        return tuple(random_seed() for _ in range(self.count))


@dataclass(frozen=True, slots=True)
class Progress:
    """A step finished: ``percent`` of the job is done; ``preview`` every few steps."""

    step: int
    total: int
    preview: Image.Image | None = None

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.step / max(1, self.total)))


@dataclass(frozen=True, slots=True)
class EffectiveParameters:
    """What a render actually used (after defaults, quality, follow-up rules): recorded with
    the job, shown by ✉️, enough to reproduce it."""

    operation: str
    steps: int
    steps_scheduled: int
    guidance_scale: float
    strength: float | None
    sampler: str
    negative_prompt: str
    prompt: tuple[tuple[str, float], ...]
    style: str | None
    stylize: int
    house_style_strength: float
    chaos: int
    stop: int
    tile: bool
    quality: float
    size: tuple[int, int]
    references: Mapping[str, Any] = field(default_factory=dict)
    """Counts by role (``images``, ``styles``, ``characters``) and ``iw``/``sw``/``cw``."""
    loras: Mapping[str, float] = field(default_factory=dict)
    """``--lora``: each LoRA's name and the weight it was applied with."""
    transfer: Mapping[str, Any] = field(default_factory=dict)
    """``Operation.TRANSFER``'s settings (backbone, strength, style/content ratio, optimiser,
    scales…); empty for the diffusion operations, whose fields above it fills neutrally."""
    portrait: Mapping[str, Any] = field(default_factory=dict)
    """``Operation.PORTRAIT``'s ranking (each cell's similarity, candidates kept) and
    ``Operation.FACE_TRAINING``'s report (photos, steps, loss)."""
    structure: Mapping[str, Any] = field(default_factory=dict)
    """Retexture's structure, ControlNet (or the fallback), scale and span; Change
    Background's subject share and seam."""

    @classmethod
    def without_diffusion_prompt(
        cls,
        operation: Operation,
        *,
        steps: int,
        size: tuple[int, int],
        sampler: str,
        guidance_scale: float = 0.0,
        references: Mapping[str, Any] | None = None,
        transfer: Mapping[str, Any] | None = None,
    ) -> EffectiveParameters:
        """For operations with no text prompt (style transfer, reference edits): the prompt,
        house-style and follow-up fields filled neutrally."""
        return cls(
            operation=str(operation),
            steps=steps,
            steps_scheduled=steps,
            guidance_scale=guidance_scale,
            strength=None,
            sampler=sampler,
            negative_prompt="",
            prompt=(),
            style=None,
            stylize=0,
            house_style_strength=0.0,
            chaos=0,
            stop=100,
            tile=False,
            quality=1.0,
            size=size,
            references=dict(references or {}),
            transfer=dict(transfer or {}),
        )

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["prompt"] = [list(part) for part in self.prompt]
        out["size"] = list(self.size)
        out["references"] = dict(self.references)
        out["transfer"] = dict(self.transfer)
        out["loras"] = dict(self.loras)
        out["portrait"] = dict(self.portrait)
        out["structure"] = dict(self.structure)
        return out


@dataclass(frozen=True, slots=True, eq=False)
class GenerationResult:
    """The images and everything needed to reproduce them."""

    images: tuple[Image.Image, ...]
    seeds: tuple[int, ...]
    width: int
    height: int
    steps_run: int
    model: str
    seconds: float
    parameters: EffectiveParameters


def grid_seeds(seed: int, count: int = GRID_SIZE) -> tuple[int, ...]:
    """Per-image seeds of a grid made with ``--seed seed``."""
    return tuple((seed + i) % SEED_MODULUS for i in range(count))


def random_seed() -> int:
    return secrets.randbelow(SEED_MODULUS)
