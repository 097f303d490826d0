"""Training data for ``builtin:shapes``: image batches rendered on the fly and a pool of
encoded latents that is refreshed a little every step.

Encoding a batch costs as much as a UNet step on a CPU, so the UNet trains on a pool of
latents (each drawn several times) whose oldest-random entries are replaced by fresh scenes
every step: the data stays effectively unlimited at a fraction of the encoder's cost.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.shapes.world import Scene, caption, fragment, render, sample_scene

__all__ = ["LatentPool", "captions_for", "image_batch"]


def image_batch(scenes: Sequence[Scene]) -> Any:
    """The scenes' renders as a float tensor in [-1, 1], shape (n, 3, 64, 64)."""
    import torch

    arrays = np.stack([np.asarray(render(s), dtype=np.float32) for s in scenes])
    return torch.from_numpy(arrays).permute(0, 3, 1, 2) / 127.5 - 1.0


def captions_for(
    scenes: Sequence[Scene],
    rng: random.Random,
    drop: float,
    unconditional: float,
    fragments: float = 0.0,
) -> list[str]:
    """Training captions: each attribute left out with probability ``drop``, the whole
    caption empty with probability ``unconditional`` (for classifier-free guidance), and a
    bare fragment (``"red"``, ``"blue background"``) with probability ``fragments``."""

    def one(scene: Scene) -> str:
        draw = rng.random()
        if draw < unconditional:
            return ""
        if draw < unconditional + fragments:
            return fragment(scene, rng)
        return caption(scene, rng, drop)

    return [one(s) for s in scenes]


class LatentPool:
    """``size`` scaled latents of training scenes (float16) and the scenes themselves; a
    share ``two_objects`` of the scenes has two objects."""

    def __init__(
        self,
        encode: Any,
        size: int,
        rng: random.Random,
        chunk: int = 128,
        two_objects: float = 0.5,
    ) -> None:
        import torch

        self._encode = encode
        self._two_objects = two_objects
        self.scenes: list[Scene] = []
        parts = []
        while len(self.scenes) < size:
            count = min(chunk, size - len(self.scenes))
            batch = [sample_scene(rng, "train", two_objects) for _ in range(count)]
            parts.append(self._encode(image_batch(batch)).to(torch.float16))
            self.scenes.extend(batch)
        self.latents = torch.cat(parts)

    def __len__(self) -> int:
        return len(self.scenes)

    def refresh(self, count: int, rng: random.Random) -> None:
        """Replace ``count`` random entries with new scenes."""
        import torch

        if count <= 0:
            return
        slots = rng.sample(range(len(self.scenes)), count)
        fresh = [sample_scene(rng, "train", self._two_objects) for _ in slots]
        latents = self._encode(image_batch(fresh)).to(torch.float16)
        for i, slot in enumerate(slots):
            self.scenes[slot] = fresh[i]
            self.latents[slot] = latents[i]

    def draw(self, count: int, rng: random.Random) -> tuple[Any, list[Scene]]:
        """``count`` random entries (with replacement): latents (float32) and scenes."""
        picks = [rng.randrange(len(self.scenes)) for _ in range(count)]
        return self.latents[picks].float(), [self.scenes[i] for i in picks]
