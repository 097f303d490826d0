"""Ranking portrait candidates by how much they look like the person.

A candidate counts only with exactly one face (a dominant face with small ones behind counts as
one, as for training photos) of at least :data:`MIN_FACE_SHARE` of the image's short side;
the rest are dropped with the reason. Kept candidates are ordered by the distance of their
face's embedding to the reference embedding (the best training photo's), nearest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from engine.portrait.faces import SAME_PERSON, Face, FaceModels
from engine.portrait.photos import clear_face

__all__ = ["MIN_FACE_SHARE", "Candidate", "rank_candidates", "similarity"]

MIN_FACE_SHARE = 0.12
"""A candidate's face box must be at least this share of the image's short side."""


@dataclass(frozen=True, slots=True)
class Candidate:
    index: int
    """Its place among the candidates given."""
    distance: float | None
    """Embedding distance to the reference; ``None`` when dropped."""
    dropped: str | None = None
    """Why it was dropped (no face, several faces, face too small)."""
    face: Face | None = None

    @property
    def similarity(self) -> float | None:
        return None if self.distance is None else similarity(self.distance)


def similarity(distance: float) -> float:
    """0–1, 1 for the same embedding, 0.5 at dlib's same-person threshold."""
    return float(max(0.0, 1.0 - distance / (2 * SAME_PERSON)))


def rank_candidates(
    images: Sequence[Image.Image], reference: np.ndarray, faces: FaceModels
) -> tuple[list[Candidate], list[Candidate]]:
    """(kept candidates nearest first, dropped candidates with their reasons)."""
    kept: list[Candidate] = []
    dropped: list[Candidate] = []
    for index, image in enumerate(images):
        found = faces.detect(image)
        if not found:
            dropped.append(Candidate(index, None, "no face"))
            continue
        face = clear_face(found)
        if face is None:
            dropped.append(Candidate(index, None, f"{len(found)} faces", found[0]))
            continue
        if face.size < MIN_FACE_SHARE * min(image.size):
            dropped.append(Candidate(index, None, "face too small", face))
            continue
        distance = float(np.linalg.norm(faces.embed(image, face) - reference))
        kept.append(Candidate(index, distance, None, face))
    kept.sort(key=lambda c: (c.distance, c.index))
    return kept, dropped
