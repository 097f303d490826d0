"""``Operation.FACE_TRAINING``: a person's photos → their portrait (face LoRA, best crop,
metadata) in the owner's folder.

The photos are prepared again here (the verdicts are deterministic: the command showed the
same ones), the kept crops are learned (:func:`engine.portrait.training.train_face_lora`) and
the portrait is saved (:func:`engine.portrait.library.save_portrait`). The first progress
report carries a contact sheet of the aligned crops: what the LoRA learns from. The result is
that sheet. Blocking and model-bound: run it on the worker thread of the model's device.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from PIL import Image

from engine.errors import InvalidRequestError
from engine.models import LoadedModel
from engine.portrait.faces import FaceModels
from engine.portrait.library import check_name, save_portrait, token_for
from engine.portrait.photos import prepare_photo
from engine.portrait.training import STEPS_PER_PHOTO, train_face_lora
from engine.request import (
    EffectiveParameters,
    GenerationRequest,
    GenerationResult,
    Operation,
    Progress,
)

__all__ = ["MIN_PHOTOS", "contact_sheet", "run_face_training"]

MIN_PHOTOS = 3
SHEET_CELL = 128
PREPARING = 20
"""Progress steps given to preparing the photos (before the training steps)."""


def contact_sheet(crops: Sequence[Image.Image], cell: int = SHEET_CELL) -> Image.Image:
    """The crops side by side in rows of up to five, ``cell`` pixels each."""
    columns = min(5, len(crops))
    rows = math.ceil(len(crops) / columns)
    sheet = Image.new("RGB", (columns * cell, rows * cell), (24, 24, 24))
    for index, crop in enumerate(crops):
        tile = crop.convert("RGB").resize((cell, cell), Image.Resampling.LANCZOS)
        sheet.paste(tile, ((index % columns) * cell, (index // columns) * cell))
    return sheet


def run_face_training(
    model: LoadedModel,
    request: GenerationRequest,
    faces: FaceModels,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> GenerationResult:
    spec = request.training
    if spec is None:
        raise InvalidRequestError("a training request needs its photos")
    if model.closed_vocabulary:
        raise InvalidRequestError(
            f"{model.source} draws only shapes: portraits need a model that draws people"
        )
    name = check_name(spec.name)
    started = time.perf_counter()
    prepared = [prepare_photo(photo, faces, side=model.native) for photo in spec.photos]
    kept = [p for p in prepared if p.crop is not None]
    hashes = [h for p, h in zip(prepared, spec.photo_hashes, strict=True) if p.crop is not None]
    if len(kept) < MIN_PHOTOS:
        raise InvalidRequestError(
            f"{len(kept)} of the photos show one clear face; at least {MIN_PHOTOS} are needed"
        )
    crops = [p.crop for p in kept if p.crop is not None]
    sheet = contact_sheet(crops)
    total = PREPARING + (spec.steps or STEPS_PER_PHOTO * len(crops))

    def stepped(step: int, steps: int, loss: float) -> None:
        if on_progress is not None:
            on_progress(Progress(PREPARING + step, total))

    if on_progress is not None:
        on_progress(Progress(PREPARING, total, preview=sheet))
    spec.root.mkdir(parents=True, exist_ok=True)
    partial = spec.root / f".{name}.training.safetensors"
    try:
        report = train_face_lora(
            model, crops, token_for(name), partial, steps=spec.steps, seed=spec.seed,
            cancel=cancel, on_step=stepped,
        )  # fmt: skip
    finally:
        for leftover in (partial.with_name(partial.name + ".partial"),):
            leftover.unlink(missing_ok=True)
    portrait = save_portrait(
        spec.root, name, report.path, kept, hashes, base_model=model.source, steps=report.steps
    )
    losses = report.losses
    head = sum(losses[:10]) / max(1, len(losses[:10]))
    tail = sum(losses[-10:]) / max(1, len(losses[-10:]))
    details = {
        "name": portrait.name,
        "token": portrait.token,
        "photos": len(prepared),
        "kept": len(kept),
        "verdicts": [p.reason for p in prepared],
        "steps": report.steps,
        "loss_first": round(head, 5),
        "loss_last": round(tail, 5),
    }
    parameters = EffectiveParameters.without_diffusion_prompt(
        Operation.FACE_TRAINING, steps=report.steps, size=sheet.size, sampler="AdamW (LoRA)"
    )
    return GenerationResult(
        images=(sheet,),
        seeds=(spec.seed,),
        width=sheet.width,
        height=sheet.height,
        steps_run=report.steps,
        model=model.source,
        seconds=time.perf_counter() - started,
        parameters=replace(parameters, portrait=details),
    )
