"""``--chaos``: how different the four images of a grid are from each other.

Two mechanisms, both seeded per image (a seed still reproduces its image) and both zero at
``--chaos 0``:

* **Layout noise.** A diffusion model settles an image's composition (where the masses and
  colours sit) from the low frequencies of its starting noise. Chaos mixes into each image's
  starting noise a coarse random field of its own (one cell per 8×8 latent pixels, bicubic-
  smoothed): ``z = √(1−a)·ε + √a·L`` with ``a = 0.5·c/100``. Each pixel is still unit normal,
  but a larger share of the variance sits in the layout, so the four layouts spread further
  apart as ``c`` grows (``bench/fidelity.py`` prints the curve: mean pairwise distance of
  8×8 thumbnails). Text-to-image gets it as its starting latents; inpainting (Vary (Region))
  gets it through the scheduler's ``add_noise``, where its noise enters.
* **Condition noise** (CADS, Sadat et al., ICLR 2024). Each image's text conditioning gets
  its own seeded noise, ``c/100`` times the conditioning's spread, at full strength for the
  first 10% of sampling and annealed away by 40%, then rescaled to the clean statistics:
  the images start towards different readings of the prompt and finish on the prompt.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LAYOUT_MAX_SHARE",
    "ChaosNoise",
    "initial_latents",
    "layout_noise",
    "layout_share",
    "noisy_add_noise",
]

CHAOS_MAX_SCALE = 1.0  # at --chaos 100 the condition noise is as strong as the signal
CHAOS_FULL_UNTIL = 0.9  # noise at full strength while more than 90% of the sampling is left…
CHAOS_GONE_AT = 0.6  # …and none once less than 60% is left
LAYOUT_MAX_SHARE = 0.5
"""Share of the starting noise's variance in the coarse layout field at ``--chaos 100``."""
LAYOUT_CELL = 8
"""Latent pixels per cell of the layout field (64 image pixels)."""
_CONDITION_SALT = 0x5EED_C4A0
_LAYOUT_SALT = 0x1A70_C4A0


def layout_share(chaos: int) -> float:
    """``a``: the layout field's share of the starting noise's variance (0 → 0.5)."""
    return LAYOUT_MAX_SHARE * max(0, min(100, chaos)) / 100


def layout_noise(noise: Any, seeds: Sequence[int], chaos: int) -> Any:
    """``noise`` (one row per image) with each image's layout field mixed in."""
    import torch
    import torch.nn.functional as functional

    share = layout_share(chaos)
    if share == 0 or noise.shape[0] != len(seeds):
        return noise
    channels, height, width = noise.shape[1:]
    cells = (max(2, math.ceil(height / LAYOUT_CELL)), max(2, math.ceil(width / LAYOUT_CELL)))
    fields = []
    for seed in seeds:
        generator = torch.Generator("cpu").manual_seed((seed ^ _LAYOUT_SALT) % 2**63)
        coarse = torch.randn((1, channels, *cells), generator=generator)
        smooth = functional.interpolate(coarse, size=(height, width), mode="bicubic")
        fields.append(smooth[0] / smooth.std())
    layout = torch.stack(fields).to(noise.device, noise.dtype)
    return math.sqrt(1 - share) * noise + math.sqrt(share) * layout


def initial_latents(pipe: Any, seeds: Sequence[int], width: int, height: int, chaos: int) -> Any:
    """Text-to-image starting latents: each image's noise from its own seed, drawn as the
    pipeline would draw it (so ``--chaos 0`` is unchanged), with its layout field mixed in."""
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    factor = int(pipe.vae_scale_factor)
    shape = (len(seeds), int(pipe.unet.config.in_channels), height // factor, width // factor)
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    noise = randn_tensor(
        shape, generator=generators, device=pipe._execution_device, dtype=pipe.unet.dtype
    )
    return layout_noise(noise, seeds, chaos)


@contextmanager
def noisy_add_noise(scheduler: Any, seeds: Sequence[int], chaos: int) -> Iterator[None]:
    """While the block runs, the noise ``scheduler.add_noise`` mixes into image latents
    (img2img, inpaint) carries each image's layout field."""
    if layout_share(chaos) == 0:
        yield
        return
    original = scheduler.add_noise

    def add_noise(samples: Any, noise: Any, timesteps: Any) -> Any:
        return original(samples, layout_noise(noise, seeds, chaos), timesteps)

    scheduler.add_noise = add_noise
    try:
        yield
    finally:
        del scheduler.add_noise  # back to the class's method


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
                generator = torch.Generator("cpu").manual_seed((seed ^ _CONDITION_SALT) % 2**63)
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
