"""Text conditioning: ``::`` weights, ``--no``, ``--stylize``, ``--weird`` and ``--chaos``.

* ``::`` weights mix the parts' text embeddings around the empty prompt's:
  ``E = E("") + Σ wᵢ/W⁺ · (E(partᵢ) − E(""))`` with ``W⁺`` the sum of the positive weights.
  All-positive weights are normalised as Midjourney documents (``a::2 b`` = ``a::4 b::2``);
  a negative weight pushes the image away from its part without inflating the others.
* ``--no a, b`` is the negative prompt ``"a, b"``.
* ``--stylize s`` sets the guidance scale ``4 + 5·e^(−s/400)``: 9 at 0 (literal), 7.9 at the
  default 100, 4.8 at 750 (freer).
* ``--weird w`` adds the part ``"ordinary, conventional, typical, plain"`` with weight
  ``−w/2000``: the higher, the further from the conventional rendering.
* ``--chaos c`` perturbs each image's conditioning with its own seeded noise early in
  sampling and anneals it away (condition-annealed sampling, CADS, Sadat et al. 2024); the
  four images diverge more as ``c`` grows, and a seed still reproduces its image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.request import WeightedText

__all__ = ["WEIRD_TEXT", "ChaosNoise", "encode", "guidance_for_stylize", "weird_part"]

WEIRD_TEXT = "ordinary, conventional, typical, plain"
CHAOS_MAX_SCALE = 1.0  # at --chaos 100 the added noise is as strong as the signal
CHAOS_FULL_UNTIL = 0.9  # noise at full strength while more than 90% of the sampling is left…
CHAOS_GONE_AT = 0.6  # …and none once less than 60% is left


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


@dataclass
class ChaosNoise:
    """Seeded per-image noise for CADS; ``apply`` returns the conditioning for a step."""

    scale: float
    noise: Any  # one tensor per conditioning input, batch = images
    clean: Any

    @classmethod
    def create(cls, chaos: int, seeds: Sequence[int], conditions: Sequence[Any]) -> ChaosNoise:
        import torch

        tensors = []
        for condition in conditions:
            rows = []
            for seed in seeds:
                generator = torch.Generator("cpu").manual_seed((seed ^ 0x5EED_C4A0) % 2**63)
                rows.append(torch.randn(condition.shape[1:], generator=generator))
            tensors.append(torch.stack(rows).to(condition.device, condition.dtype))
        return cls(CHAOS_MAX_SCALE * chaos / 100, tensors, list(conditions))

    def apply(self, remaining: float) -> list[Any]:
        """Conditioning when ``remaining`` (1 → 0) of the sampling is left."""
        if remaining >= CHAOS_FULL_UNTIL:
            keep = 0.0
        elif remaining <= CHAOS_GONE_AT:
            keep = 1.0
        else:
            keep = (CHAOS_FULL_UNTIL - remaining) / (CHAOS_FULL_UNTIL - CHAOS_GONE_AT)
        out = []
        for clean, noise in zip(self.clean, self.noise, strict=True):
            if keep >= 1.0:
                out.append(clean)
                continue
            dims = tuple(range(1, clean.dim()))
            spread = clean.std(dim=dims, keepdim=True)
            noisy = clean + self.scale * math.sqrt(1 - keep) * spread * noise
            out.append(_rescale_like(noisy, clean))
        return out


def _rescale_like(tensor: Any, reference: Any) -> Any:
    # CADS rescales the noisy condition to the clean one's statistics, per sample, so the
    # network sees inputs of the scale it was trained on.
    dims = tuple(range(1, tensor.dim()))
    mean, std = tensor.mean(dim=dims, keepdim=True), tensor.std(dim=dims, keepdim=True)
    ref_mean, ref_std = (
        reference.mean(dim=dims, keepdim=True),
        reference.std(dim=dims, keepdim=True),
    )
    return (tensor - mean) / (std + 1e-6) * ref_std + ref_mean
