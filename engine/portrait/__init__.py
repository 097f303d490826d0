"""Portraits of a person from a few photos (FaceChain's pipeline on our stack).

``faces``: detection, landmarks and identity embeddings (dlib); ``photos``: each training
photo's verdict and its aligned crop; ``ranking``: candidates ordered by likeness. The LoRA
training, the face fusion and ``/portrait`` build on these.
"""

from __future__ import annotations

from engine.portrait.faces import SAME_PERSON, DlibFaces, Face, FaceModels, default_faces
from engine.portrait.photos import PreparedPhoto, Verdict, align_and_crop, prepare_photo
from engine.portrait.ranking import Candidate, rank_candidates, similarity

__all__ = [
    "SAME_PERSON",
    "Candidate",
    "DlibFaces",
    "Face",
    "FaceModels",
    "PreparedPhoto",
    "Verdict",
    "align_and_crop",
    "default_faces",
    "prepare_photo",
    "rank_candidates",
    "similarity",
]
