"""A person's portrait model on disk: one folder per name.

``<root>/<name>/lora.safetensors`` (the face LoRA, diffusers' format), ``best.png`` (the
aligned crop of the most typical photo: the reference for ranking and face fusion) and
``portrait.json``: the trigger token, the base model, the steps, the photos' SHA-256 (never the
photos themselves) and the reference embedding. Deleting the folder forgets the person.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.errors import InvalidRequestError
from engine.portrait.photos import PreparedPhoto

__all__ = [
    "NAME",
    "Portrait",
    "best_photo",
    "load_portrait",
    "save_portrait",
    "token_for",
]

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
LORA = "lora.safetensors"
META = "portrait.json"
BEST = "best.png"


@dataclass(frozen=True, slots=True)
class Portrait:
    name: str
    folder: Path
    token: str
    base_model: str
    steps: int
    photos: tuple[str, ...]
    """SHA-256 of each kept photo."""
    embedding: np.ndarray

    @property
    def lora(self) -> Path:
        return self.folder / LORA

    @property
    def best(self) -> Path:
        return self.folder / BEST


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise InvalidRequestError(
            f"portrait name {name!r}: use 1–32 letters, digits, “_” or “-”, starting with a "
            "letter or digit"
        )
    return name


def token_for(name: str) -> str:
    """A rare trigger token for the person (the LoRA learns it as their face)."""
    return f"sks{hashlib.sha256(name.encode()).hexdigest()[:4]}"


def best_photo(prepared: Sequence[PreparedPhoto]) -> int:
    """The kept photo whose embedding is nearest the mean: the most typical of the person."""
    embeddings = np.stack([p.embedding for p in prepared if p.embedding is not None])
    centre = embeddings.mean(0)
    return int(np.argmin(np.linalg.norm(embeddings - centre, axis=1)))


def save_portrait(
    root: Path,
    name: str,
    lora: Path,
    prepared: Sequence[PreparedPhoto],
    photo_hashes: Sequence[str],
    *,
    base_model: str,
    steps: int,
) -> Portrait:
    """Move ``lora`` into the person's folder with the reference crop and the metadata."""
    folder = root / check_name(name)
    folder.mkdir(parents=True, exist_ok=True)
    best = prepared[best_photo(prepared)]
    assert best.crop is not None and best.embedding is not None  # noqa: S101, PT018 - kept
    best.crop.save(folder / BEST)
    shutil.move(str(lora), folder / LORA)
    meta = {
        "name": name,
        "token": token_for(name),
        "base_model": base_model,
        "steps": steps,
        "photos": list(photo_hashes),
        "embedding": [float(v) for v in best.embedding],
    }
    (folder / META).write_text(json.dumps(meta, indent=1), "utf-8")
    return load_portrait(root, name)


def load_portrait(root: Path, name: str) -> Portrait:
    folder = root / check_name(name)
    try:
        meta = json.loads((folder / META).read_text("utf-8"))
    except FileNotFoundError:
        raise InvalidRequestError(f"no portrait named {name!r}: train one first") from None
    return Portrait(
        name=name,
        folder=folder,
        token=str(meta["token"]),
        base_model=str(meta["base_model"]),
        steps=int(meta["steps"]),
        photos=tuple(meta["photos"]),
        embedding=np.asarray(meta["embedding"], dtype=np.float64),
    )


def load_best(portrait: Portrait) -> Image.Image:
    with Image.open(portrait.best) as image:
        return image.convert("RGB")
