"""Portrait benchmark: photo preparation, face-LoRA training seconds per step, and ranking.

Default: ``builtin:tiny`` on CPU with scikit-image's astronaut and two edited copies.
``--model`` takes any model the engine loads (an SD 1.5 folder, a Hub id in the cache) and
``--device cuda`` runs it on a GPU. Prints seconds per training step, the estimated time of a
default training (200 steps per photo) and the ranking time for 8 candidates, measured in one
run.

Run: .venv/bin/python bench/portrait.py [--model builtin:tiny] [--device cpu] [--steps 20]
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
    parser.add_argument("--steps", type=int, default=20)
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


if __name__ == "__main__":
    main()
