"""Portraits of a trained person: candidates with the face LoRA, their faces fused, ranked.

1. Render ``candidates`` images of ``"<token>, a person, <prompt>"`` with the person's face
   LoRA at :data:`FACE_WEIGHT`.
2. For each candidate with one clear face, repaint the face box like the person's best crop
   (:func:`engine.portrait.fusion.fuse_face`).
3. Rank by likeness (:func:`engine.portrait.ranking.rank_candidates`); candidates without a
   usable face come last, with the reason.

Blocking and model-bound: run it on the worker thread of the model's device.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image

from engine.loras import LoraLibrary, LoraUse
from engine.models import LoadedModel
from engine.operations import render
from engine.portrait.faces import FaceModels
from engine.portrait.fusion import fuse_face
from engine.portrait.library import LORA, Portrait, load_best
from engine.portrait.photos import DOMINANT_RATIO
from engine.portrait.ranking import Candidate, rank_candidates
from engine.request import GenerationRequest, Progress, WeightedText

__all__ = ["FACE_WEIGHT", "PortraitSet", "imagine_portraits", "portrait_prompt"]

FACE_WEIGHT = 0.9


@dataclass(frozen=True, slots=True)
class PortraitSet:
    images: tuple[Image.Image, ...]
    """Every candidate (fused where it had a face), in the order rendered."""
    seeds: tuple[int, ...]
    ranked: tuple[Candidate, ...]
    """Kept candidates nearest first, then the dropped ones."""


def portrait_prompt(portrait: Portrait, prompt: str) -> str:
    return f"{portrait.token}, a person, {prompt}".rstrip(", ")


def imagine_portraits(
    model: LoadedModel,
    portrait: Portrait,
    prompt: str,
    seeds: Sequence[int],
    faces: FaceModels,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> PortraitSet:
    text = portrait_prompt(portrait, prompt)
    library = LoraLibrary(portrait.folder)
    face_lora = LoraUse(LORA.removesuffix(".safetensors"), FACE_WEIGHT)
    request = GenerationRequest(
        prompt=(WeightedText(text),), seeds=tuple(seeds), count=len(seeds), loras=(face_lora,)
    )
    result = render(model, request, cancel=cancel, on_progress=on_progress, loras=library)
    best = load_best(portrait)
    images = list(result.images)
    for index, image in enumerate(images):
        found = faces.detect(image)
        if found and (len(found) == 1 or found[0].area >= DOMINANT_RATIO * found[1].area):
            images[index] = fuse_face(
                model, image, found[0], best, text, seed=result.seeds[index],
                loras=library, lora=face_lora,
            )  # fmt: skip
    kept, dropped = rank_candidates(images, portrait.embedding, faces)
    return PortraitSet(tuple(images), result.seeds, (*kept, *dropped))
