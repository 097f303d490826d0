"""Text conditioning: ``::`` weights, ``--no``, ``--stylize``, ``--weird`` and ``--chaos``.

* ``::`` weights mix the parts' text embeddings around the empty prompt's:
  ``E = E("") + Σ wᵢ/W⁺ · (E(partᵢ) − E(""))`` with ``W⁺`` the sum of the positive weights.
  All-positive weights are normalised as Midjourney documents (``a::2 b`` = ``a::4 b::2``);
  a negative weight pushes the image away from its part without inflating the others.
* ``--no a, b`` is the negative prompt ``"a, b"``.
* ``--stylize s`` sets the guidance scale ``4 + 5·e^(−s/400)``: 9 at 0 (literal), 7.9 at the
  default 100, 4.8 at 750 (freer); it also sets the house style's strength
  (``engine/house_style.py``).
* ``--weird w`` adds the part ``"ordinary, conventional, typical, plain"`` with weight
  ``−w/2000``: the higher, the further from the conventional rendering.
* ``--chaos``: see ``engine/chaos.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine.request import WeightedText

__all__ = ["WEIRD_TEXT", "encode", "guidance_for_stylize", "weird_part"]

WEIRD_TEXT = "ordinary, conventional, typical, plain"


def guidance_for_stylize(stylize: int) -> float:
    return 4.0 + 5.0 * math.exp(-stylize / 400)


def weird_part(weird: int) -> WeightedText | None:
    return WeightedText(WEIRD_TEXT, -weird / 2000) if weird > 0 else None


def encode(
    pipe: Any, parts: Sequence[WeightedText], negative: str, count: int, sdxl: bool
) -> dict[str, Any]:
    """Pipeline keyword arguments (``prompt_embeds`` …) for ``count`` images."""
    import torch

    texts = [p.text for p in parts] or [""]
    weights = [p.weight for p in parts] or [1.0]
    device = pipe._execution_device
    with torch.no_grad():
        if sdxl:
            embeds, _, pooled, _ = pipe.encode_prompt(
                prompt=[*texts, ""],
                device=device,
                num_images_per_prompt=1,
                do_classifier_free_guidance=False,
            )
            neg, _, neg_pooled, _ = pipe.encode_prompt(
                prompt=[negative],
                device=device,
                num_images_per_prompt=1,
                do_classifier_free_guidance=False,
            )
            if not negative and pipe.config.force_zeros_for_empty_prompt:
                neg, neg_pooled = torch.zeros_like(neg), torch.zeros_like(neg_pooled)
            return {
                "prompt_embeds": _mix(embeds, weights).repeat(count, 1, 1),
                "pooled_prompt_embeds": _mix(pooled, weights).repeat(count, 1),
                "negative_prompt_embeds": neg.repeat(count, 1, 1),
                "negative_pooled_prompt_embeds": neg_pooled.repeat(count, 1),
            }
        embeds, _ = pipe.encode_prompt(
            prompt=[*texts, ""],
            device=device,
            num_images_per_prompt=1,
            do_classifier_free_guidance=False,
        )
        neg, _ = pipe.encode_prompt(
            prompt=[negative],
            device=device,
            num_images_per_prompt=1,
            do_classifier_free_guidance=False,
        )
    return {
        "prompt_embeds": _mix(embeds, weights).repeat(count, 1, 1),
        "negative_prompt_embeds": neg.repeat(count, 1, 1),
    }


def _mix(stacked: Any, weights: Sequence[float]) -> Any:
    """Rows 0..n-1 are the parts, the last row the empty prompt; returns one row."""
    parts, empty = stacked[:-1], stacked[-1:]
    if len(weights) == 1 and weights[0] == 1.0:
        return parts[:1]
    positive = sum(w for w in weights if w > 0) or 1.0
    mixed = empty.clone()
    for row, weight in zip(parts, weights, strict=True):
        mixed = mixed + (weight / positive) * (row.unsqueeze(0) - empty)
    return mixed
