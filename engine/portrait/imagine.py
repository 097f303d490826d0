"""Portraits of a trained person (``Operation.PORTRAIT``): candidates with the face LoRA, their
faces fused, ranked; the best few are the result.

1. Render the request's candidates (one per seed): its prompt starts with the person's token
   (:func:`person_prompt`) and its LoRAs include the face LoRA at :data:`FACE_WEIGHT`.
2. For each candidate with one clear face, repaint the face box like the person's best crop
   (:func:`engine.portrait.fusion.fuse_face`).
3. Rank by likeness (:func:`engine.portrait.ranking.rank_candidates`); candidates without a
   usable face come last, with the reason. The first ``keep`` are the result; the effective
   parameters say each one's similarity and how many candidates had a usable face.

Blocking and model-bound: run it on the worker thread of the model's device.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from PIL import Image

from engine.errors import InvalidRequestError, JobCancelledError
from engine.house_style import DEFAULT_HOUSE_STYLES, HouseStyles
from engine.loras import LoraLibrary, LoraUse
from engine.models import LoadedModel
from engine.operations import render
from engine.portrait.faces import FaceModels
from engine.portrait.fusion import fuse_face
from engine.portrait.library import Portrait, load_best, load_portrait
from engine.portrait.photos import clear_face
from engine.portrait.ranking import Candidate, rank_candidates
from engine.request import (
    GenerationRequest,
    GenerationResult,
    Operation,
    Progress,
    WeightedText,
)

__all__ = ["FACE_WEIGHT", "PortraitSet", "imagine_portraits", "person_prompt", "run_portraits"]

FACE_WEIGHT = 0.9
"""The face LoRA's weight (FaceChain merges it at 0.85–0.95)."""
RENDER_SHARE = 0.7
"""Of the progress bar: the candidates' render; fusion and ranking take the rest."""
PROGRESS_TOTAL = 1000

PreviewFn = Callable[[list[Image.Image]], Image.Image | None]


@dataclass(frozen=True, slots=True)
class PortraitSet:
    images: tuple[Image.Image, ...]
    """Every candidate (fused where it had a face), in the order rendered."""
    seeds: tuple[int, ...]
    ranked: tuple[Candidate, ...]
    """Kept candidates nearest first, then the dropped ones."""
    render: GenerationResult


def person_prompt(token: str, prompt: Sequence[WeightedText]) -> tuple[WeightedText, ...]:
    """``prompt`` about the person: ``"<token>, a person, "`` before its first part."""
    person = f"{token}, a person"
    if not prompt:
        return (WeightedText(person),)
    first, *rest = prompt
    text = f"{person}, {first.text}" if first.text.strip() else person
    return (WeightedText(text, first.weight), *rest)


def imagine_portraits(
    model: LoadedModel,
    portrait: Portrait,
    request: GenerationRequest,
    face_lora: LoraUse,
    faces: FaceModels,
    library: LoraLibrary,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_preview: PreviewFn | None = None,
    house: HouseStyles = DEFAULT_HOUSE_STYLES,
) -> PortraitSet:
    """Every candidate of ``request`` (about the person: its prompt names their token, its
    LoRAs their face), fused, ranked."""
    request = replace(request, operation=Operation.IMAGINE, portrait=None)
    report = _Stages(on_progress, len(request.resolved_seeds()))
    result = render(
        model, request, cancel=cancel, on_progress=report.rendering, on_preview=on_preview,
        house=house, loras=library,
    )  # fmt: skip
    best = load_best(portrait)
    text = request.prompt[0].text if request.prompt else ""
    images = list(result.images)
    for index, image in enumerate(images):
        if cancel is not None and cancel.is_set():
            raise JobCancelledError("cancelled while fusing faces")
        face = clear_face(faces.detect(image))
        if face is not None:
            images[index] = fuse_face(
                model, image, face, best, text, seed=result.seeds[index],
                loras=library, lora=face_lora,
            )  # fmt: skip
        report.fused(index + 1)
    kept, dropped = rank_candidates(images, portrait.embedding, faces)
    return PortraitSet(tuple(images), result.seeds, (*kept, *dropped), result)


def run_portraits(
    model: LoadedModel,
    request: GenerationRequest,
    faces: FaceModels,
    library: LoraLibrary,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_preview: PreviewFn | None = None,
    house: HouseStyles = DEFAULT_HOUSE_STYLES,
) -> GenerationResult:
    """``Operation.PORTRAIT``: the best ``request.portrait.keep`` candidates, ranked."""
    spec = request.portrait
    if spec is None:
        raise InvalidRequestError("a portrait request needs its portrait")
    face_lora = next((use for use in request.loras if use.name == spec.face_lora), None)
    if face_lora is None:
        raise InvalidRequestError("a portrait request needs the person's face LoRA")
    started = time.perf_counter()
    portrait = load_portrait(spec.folder.parent, spec.folder.name)
    made = imagine_portraits(
        model, portrait, request, face_lora, faces, library, cancel=cancel,
        on_progress=on_progress, on_preview=on_preview, house=house,
    )  # fmt: skip
    best = made.ranked[: spec.keep]
    kept = sum(c.distance is not None for c in made.ranked)
    cells = [
        {"seed": made.seeds[c.index], "similarity": c.similarity, "dropped": c.dropped}
        for c in best
    ]
    details = {"candidates": len(made.images), "with_one_face": kept, "cells": cells}
    rendered = made.render
    return GenerationResult(
        images=tuple(made.images[c.index] for c in best),
        seeds=tuple(made.seeds[c.index] for c in best),
        width=rendered.width,
        height=rendered.height,
        steps_run=rendered.steps_run,
        model=rendered.model,
        seconds=time.perf_counter() - started,
        parameters=replace(
            rendered.parameters, operation=str(Operation.PORTRAIT), portrait=details
        ),
    )


class _Stages:
    """One progress bar over the render (:data:`RENDER_SHARE`) and the fusions."""

    def __init__(self, on_progress: Callable[[Progress], None] | None, count: int) -> None:
        self.on_progress = on_progress
        self.count = max(1, count)

    def rendering(self, progress: Progress) -> None:
        share = RENDER_SHARE * progress.step / max(1, progress.total)
        self._send(share, progress.preview)

    def fused(self, done: int) -> None:
        self._send(RENDER_SHARE + (1 - RENDER_SHARE) * done / self.count, None)

    def _send(self, share: float, preview: Image.Image | None) -> None:
        if self.on_progress is not None:
            step = min(PROGRESS_TOTAL - 1, round(PROGRESS_TOTAL * share))
            self.on_progress(Progress(step, PROGRESS_TOTAL, preview))
