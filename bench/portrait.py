"""Portrait benchmark: photo preparation, face-LoRA training seconds per step, ranking, and
the end-to-end time of ``/portrait imagine`` (candidates → face fusion → ranking).

Default: ``builtin:tiny`` on CPU with scikit-image's astronaut and two edited copies.
``--model`` takes any model the engine loads (an SD 1.5 folder, a Hub id in the cache);
``--arch sd15`` builds the full-size SD 1.5 architecture with random weights (no download) —
with ``--device cuda`` on a GPU. Prints seconds per training step, the estimated time of a
default training (200 steps per photo), the ranking time for 8 candidates and one
``/portrait imagine`` of ``--candidates`` candidates, measured in one run.

Run: .venv/bin/python bench/portrait.py [--model builtin:tiny | --arch sd15] [--device cpu]
     [--steps 20] [--candidates 8] [--sampling-steps N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="builtin:tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--arch", choices=("sd15",), default=None)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--sampling-steps", type=int, default=None)
    args = parser.parse_args()

    import torch
    from PIL import Image
    from skimage import data

    from engine.models import load_model, resolve_dtype
    from engine.portrait import default_faces, prepare_photo, rank_candidates
    from engine.portrait.training import STEPS_PER_PHOTO, train_face_lora

    faces = default_faces()
    astronaut = Image.fromarray(data.astronaut())
    photos = [
        astronaut,
        astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        astronaut.crop((40, 0, 472, 432)),
    ]
    started = time.perf_counter()
    faces.detect(astronaut)
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    prepared = [prepare_photo(photo, faces) for photo in photos]
    prepare_seconds = (time.perf_counter() - started) / len(photos)
    crops = [p.crop for p in prepared if p.crop is not None]
    print(f"face models: load {load_seconds:.2f} s; prepare a photo {prepare_seconds:.2f} s")

    cache = Path(tempfile.gettempdir()) / "mjbot-bench-models"
    dtype = resolve_dtype("auto", args.device)
    if args.arch is not None:
        from bench.engine import full_size_pipeline
        from engine.models import prepare_model

        pipe = full_size_pipeline(args.arch, args.device, dtype)
        model = prepare_model(pipe, f"random:{args.arch}", device=args.device)
        args.model = f"{args.arch} (random weights)"
    else:
        model = load_model(args.model, device=args.device, dtype=dtype, cache_dir=cache)
    with tempfile.TemporaryDirectory() as folder:
        train_face_lora(model, crops, "sks", Path(folder) / "warm.safetensors", steps=2)
        started = time.perf_counter()
        report = train_face_lora(
            model, crops, "sks", Path(folder) / "me.safetensors", steps=args.steps
        )
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        per_step = (time.perf_counter() - started) / args.steps
    default_steps = STEPS_PER_PHOTO * len(crops)
    print(
        f"training on {args.model} ({args.device}): {per_step * 1000:.0f} ms/step over "
        f"{report.steps} steps; a default training ({default_steps} steps, {len(crops)} "
        f"photos) ≈ {per_step * default_steps:.0f} s"
    )
    reference = prepared[0].embedding
    assert reference is not None  # noqa: S101 - the astronaut is kept
    candidates = [*photos, *photos, astronaut, astronaut][:8]
    started = time.perf_counter()
    kept, dropped = rank_candidates(candidates, reference, faces)
    print(
        f"ranking 8 candidates: {time.perf_counter() - started:.2f} s "
        f"({len(kept)} kept, {len(dropped)} dropped)"
    )
    imagine_seconds(model, photos, args)


def imagine_seconds(model: object, photos: list[object], args: argparse.Namespace) -> None:
    """One ``/portrait imagine`` as the worker runs it: train a portrait (``--steps``), then
    ``--candidates`` candidates with the face LoRA, fused and ranked."""
    import hashlib

    from engine.loras import LoraLibrary, LoraUse, portrait_lora
    from engine.portrait import default_faces
    from engine.portrait.imagine import FACE_WEIGHT, person_prompt, run_portraits
    from engine.portrait.learn import run_face_training
    from engine.portrait.library import token_for
    from engine.request import (
        FaceTrainingSpec,
        GenerationRequest,
        Operation,
        PortraitSpec,
        WeightedText,
        grid_seeds,
    )

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        hashes = tuple(hashlib.sha256(str(i).encode()).hexdigest() for i in range(len(photos)))
        training = FaceTrainingSpec(tuple(photos), hashes, "me", root / "0", steps=args.steps)  # type: ignore[arg-type]
        run_face_training(
            model,  # type: ignore[arg-type]
            GenerationRequest(operation=Operation.FACE_TRAINING, training=training),
            default_faces(),
        )
        lora = portrait_lora(0, "me")
        request = GenerationRequest(
            operation=Operation.PORTRAIT,
            prompt=person_prompt(token_for("me"), (WeightedText("in a garden, oil painting"),)),
            seeds=grid_seeds(1, args.candidates),
            count=args.candidates,
            steps=args.sampling_steps,
            loras=(LoraUse(lora, FACE_WEIGHT),),
            portrait=PortraitSpec(root / "0" / "me", lora),
        )
        started = time.perf_counter()
        result = run_portraits(model, request, default_faces(), LoraLibrary(None, root))  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
    details = result.parameters.portrait
    print(
        f"/portrait imagine ({args.candidates} candidates, {result.steps_run} steps, "
        f"{result.width}×{result.height}): {seconds:.1f} s "
        f"({details['with_one_face']} with one clear face)"
    )


if __name__ == "__main__":
    main()
