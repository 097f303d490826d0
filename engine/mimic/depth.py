"""Depth for "keep shape": Depth Anything on the source, a small guider to 4 latent channels.

The guider follows the authors' ``depth_guider.py``: the depth map is resized to the working
side, then ``conv_in`` → (conv, stride-2 conv) × 3 → ``conv_out``, SiLU after every conv but
the last, so a 512² map becomes a 64²×4 feature (the latent's size). It is an
``nn.ModuleDict`` so its state-dict keys are the authors' (``conv_in.*``, ``blocks.N.*``,
``conv_out.*``).

With keep shape off the authors do not drop the depth branch: they feed an all-zero image to
the depth model and the guider (``depth_image * 0``), which gives a constant, source-independent
feature the model was trained with. We do the same (``depth_pixels(..., keep_shape=False)``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from PIL import Image

__all__ = [
    "DEPTH_MEAN",
    "DEPTH_STD",
    "GUIDER_CHANNELS",
    "build_depth_guider",
    "depth_feature",
    "depth_pixels",
]

GUIDER_CHANNELS = (16, 32, 64, 128)
"""The authors' ``block_out_channels``: three stride-2 convs, 16 → 128 channels."""
DEPTH_MEAN = (0.485, 0.456, 0.406)
DEPTH_STD = (0.229, 0.224, 0.225)


def build_depth_guider(channels: Sequence[int] = GUIDER_CHANNELS, latent_channels: int = 4) -> Any:
    """A random-weight depth guider (load the trained weights into it)."""
    from torch import nn

    blocks = nn.ModuleList()
    for low, high in itertools.pairwise(channels):
        blocks.append(nn.Conv2d(low, low, kernel_size=3, padding=1))
        blocks.append(nn.Conv2d(low, high, kernel_size=3, padding=1, stride=2))
    return nn.ModuleDict(
        {
            "conv_in": nn.Conv2d(1, channels[0], kernel_size=3, padding=1),
            "blocks": blocks,
            "conv_out": nn.Conv2d(channels[-1], latent_channels, kernel_size=3, padding=1),
        }
    )


def depth_pixels(image: Image.Image, side: int, *, keep_shape: bool) -> Any:
    """The depth model's input for ``image`` (already square): a (1, 3, side, side) tensor.

    The authors normalise 0–255 pixel values with ImageNet's mean and std *and then* divide by
    255 (their transform expects 0–1 input but receives 0–255); the trained guider is used to
    the resulting depth scale, so we reproduce it. Keep shape off gives all zeros.
    """
    import numpy as np
    import torch

    if not keep_shape:
        return torch.zeros((1, 3, side, side))
    resized = image.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
    pixels = np.asarray(resized, dtype=np.float32)
    normalised = (pixels - np.array(DEPTH_MEAN, np.float32)) / np.array(DEPTH_STD, np.float32)
    return torch.from_numpy(normalised / 255.0).permute(2, 0, 1).unsqueeze(0).contiguous()


def depth_feature(depth_model: Any, guider: Any, pixels: Any, side: int) -> Any:
    """Depth map of ``pixels`` → the guider's (1, 4, side/8, side/8) feature."""
    import torch.nn.functional as F

    depth = depth_model(pixel_values=pixels).predicted_depth.unsqueeze(1)
    x = F.interpolate(depth, size=(side, side), mode="bilinear", align_corners=True)
    x = F.silu(guider["conv_in"](x))
    for block in guider["blocks"]:
        x = F.silu(block(x))
    return guider["conv_out"](x)
