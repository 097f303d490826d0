"""The operation-specific parts of a :class:`~engine.request.GenerationRequest`: style
transfer, reference edits, face training and portraits, Retexture and Change Background (each
operation's settings in one frozen value; ``engine.request`` re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from PIL import Image

__all__ = [
    "BackgroundSpec",
    "FaceTrainingSpec",
    "MimicSpec",
    "PortraitSpec",
    "RetextureSpec",
    "StructureKind",
    "TransferOptimizer",
    "TransferSpec",
]


class TransferOptimizer(StrEnum):
    LBFGS = "lbfgs"
    ADAM = "adam"


@dataclass(frozen=True, slots=True, eq=False)
class TransferSpec:
    """Neural style transfer (``Operation.TRANSFER``) of the request's ``source`` (the content
    image) toward ``style``; see ``engine/transfer/``."""

    style: Image.Image
    strength: int = 100
    """0–1000 like ``--sw``: the style/content balance (0 = the content unchanged)."""
    size: int | None = None
    """The result's long side in pixels; ``None``: the content's, within the device budget."""
    preserve_colors: bool = False
    """Transfer luminance only and keep the content's colours (Gatys et al. 2016)."""
    optimizer: TransferOptimizer = TransferOptimizer.LBFGS
    steps: int | None = None
    """Optimiser steps over all scales; ``None``: the operation's default."""


@dataclass(frozen=True, slots=True, eq=False)
class MimicSpec:
    """Reference imitation (``Operation.MIMIC``): the region ``mask`` of ``source`` repainted
    with the corresponding content of ``reference``; see ``engine/mimic/``."""

    reference: Image.Image
    keep_shape: bool = False
    """Keep the region's shape (the source's depth guides the edit): texture only."""
    guidance: float | None = None
    """Classifier-free guidance on the reference; ``None``: the authors' 5."""


@dataclass(frozen=True, slots=True, eq=False)
class FaceTrainingSpec:
    """``Operation.FACE_TRAINING``: ``photos`` (as uploaded) prepared, learned, and kept as
    the portrait ``name`` in ``root/name`` (``engine/portrait/library.py``)."""

    photos: tuple[Image.Image, ...]
    photo_hashes: tuple[str, ...]
    name: str
    root: Path
    """The owner's folder of portraits."""
    steps: int | None = None
    """Training steps; ``None``: 200 per kept photo (FaceChain's recipe)."""
    seed: int = 0


@dataclass(frozen=True, slots=True)
class PortraitSpec:
    """``Operation.PORTRAIT``: ``candidates`` renders (the request's seeds) of the person kept
    in ``folder``; the request's prompt and LoRAs already name their token and face LoRA."""

    folder: Path
    face_lora: str
    """The request's LoRA that is the person's face (fusion repaints the face with it)."""
    keep: int = 4
    """How many of the best candidates are the result: a grid's four."""


class StructureKind(StrEnum):
    """What Retexture keeps of the source."""

    EDGES = "edges"
    """Canny edges (OpenCV, no weights): outlines and detail."""
    DEPTH = "depth"
    """Relative depth (Depth Anything): the shapes' volumes, not their outlines."""
    SKETCH = "sketch"
    """Line art: the strokes of a drawing (or a photo's main lines)."""


@dataclass(frozen=True, slots=True)
class RetextureSpec:
    """``Operation.RETEXTURE`` of the request's ``source``."""

    structure: StructureKind = StructureKind.EDGES
    strength: int = 50
    """0–100: how tightly the structure is followed (ControlNet scale and span)."""


@dataclass(frozen=True, slots=True, eq=False)
class BackgroundSpec:
    """``Operation.BACKGROUND`` of the request's ``source``: ``subject`` (L, white = keep)
    given by the user, or ``None`` to find it with the segmenter."""

    subject: Image.Image | None = None
