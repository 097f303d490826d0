"""``--tile``: seamless images, also through the tiled VAE of upscales, and the seam metric.

Circular padding on every convolution makes the UNet and the VAE work on a torus, so the
image wraps. The tiled VAE (upscales) breaks this: each tile would wrap onto itself, leaving
seams at every tile border. With VAE tiling on, the VAE therefore keeps its zero padding and
its input is instead padded by a wrapped margin (the opposite edge) before encoding or
decoding, and the margin cropped off after: the edges see their true neighbours, as on the
torus, while each tile stays as small as tiling wants.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
from PIL import Image

__all__ = [
    "WRAP_MARGIN",
    "circular_padding",
    "seam_ratio",
    "seamless",
    "unwrap",
    "wrapped_vae",
]

WRAP_MARGIN = 8
"""Latent pixels of wrapped margin around a tiled VAE's input (64 image pixels): wider than
the reach of the VAE's convolutions that matters (seam ratio 1.0 at 8, see tests)."""


@contextmanager
def circular_padding(*modules: Any, enabled: bool = True) -> Iterator[None]:
    """Make every Conv2d of ``modules`` pad circularly (``--tile``), restoring on exit.

    The VAE encoder's downsamplers pad only right and bottom, with explicit zeros before an
    unpadded convolution; that padding is made to wrap as well (the zero column and row
    become copies of the first ones), or encoded tiles get a dark right and bottom edge.
    """
    if not enabled:
        yield
        return
    import torch
    from diffusers.models.downsampling import Downsample2D

    changed = []
    hooks = []
    for module in modules:
        for layer in module.modules():
            if isinstance(layer, torch.nn.Conv2d) and layer.padding_mode != "circular":
                changed.append((layer, layer.padding_mode))
                layer.padding_mode = "circular"
            if isinstance(layer, Downsample2D) and layer.use_conv and layer.padding == 0:
                hooks.append(layer.conv.register_forward_pre_hook(_wrap_right_and_bottom))
    try:
        yield
    finally:
        for layer, mode in changed:
            layer.padding_mode = mode
        for hook in hooks:
            hook.remove()


def _wrap_right_and_bottom(conv: Any, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    padded = inputs[0].clone()  # [x, 0; 0, 0] from Downsample2D's F.pad(x, (0, 1, 0, 1))
    padded[..., :, -1] = padded[..., :, 0]
    padded[..., -1, :] = padded[..., 0, :]
    return (padded, *inputs[1:])


@contextmanager
def wrapped_vae(vae: Any, margin: int = WRAP_MARGIN) -> Iterator[None]:
    """Wrap ``vae.encode``/``vae.decode`` so their input is padded with ``margin`` latent
    pixels taken from the opposite edges and the output cropped back."""
    import torch.nn.functional as functional
    from diffusers.models.autoencoders.vae import DecoderOutput, DiagonalGaussianDistribution
    from diffusers.models.modeling_outputs import AutoencoderKLOutput

    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    original_encode, original_decode = vae.encode, vae.decode

    def decode(z: Any, *args: Any, return_dict: bool = True, **kwargs: Any) -> Any:
        padded = functional.pad(z, (margin,) * 4, mode="circular")
        sample = original_decode(padded, *args, return_dict=False, **kwargs)[0]
        sample = unwrap(sample, margin * factor)
        return DecoderOutput(sample=sample) if return_dict else (sample,)

    def encode(x: Any, *args: Any, return_dict: bool = True, **kwargs: Any) -> Any:
        edge = margin * factor
        padded = functional.pad(x, (edge,) * 4, mode="circular")
        posterior = original_encode(padded, *args, return_dict=False, **kwargs)[0]
        moments = unwrap(posterior.parameters, margin)
        cropped = DiagonalGaussianDistribution(moments)
        return AutoencoderKLOutput(latent_dist=cropped) if return_dict else (cropped,)

    vae.encode, vae.decode = encode, decode
    try:
        yield
    finally:
        del vae.encode, vae.decode  # back to the class's methods


def unwrap(padded: Any, margin: int) -> Any:
    """The middle of a tensor padded with ``margin`` wrapped pixels on each side (last two
    dimensions), its edges cross-faded with the copies of them in the opposite margins.

    A tiled VAE computes an image's first columns and their copies beyond its last column in
    different tiles, whose outputs differ a little (each tile sees its own zero padding);
    cropping kept one copy at each edge, so the wrap joined two tiles' versions: a seam
    (ratio 1.25 on upscales with few denoising steps). Fading each edge into its copy — half
    and half at the edge itself, the edge's own copy ``margin`` pixels in — gives both sides
    of the seam the same mixture.
    """
    import torch

    if margin == 0:
        return padded
    ramp = 0.5 + 0.5 * torch.arange(margin, dtype=padded.dtype, device=padded.device) / margin
    out = padded
    for dim in (-1, -2):
        size = out.shape[dim] - 2 * margin
        middle = out.narrow(dim, margin, size).clone()
        shape = [1] * out.dim()
        shape[dim] = margin
        weight = ramp.reshape(shape)
        first, last = middle.narrow(dim, 0, margin), middle.narrow(dim, size - margin, margin)
        beyond_last = out.narrow(dim, margin + size, margin)  # copies of the first pixels
        before_first = out.narrow(dim, 0, margin)  # copies of the last pixels
        first.copy_(weight * first + (1 - weight) * beyond_last)
        last.copy_(weight.flip(dim) * last + (1 - weight.flip(dim)) * before_first)
        out = middle
    return out


@contextmanager
def seamless(unet: Any, vae: Any, *, enabled: bool, vae_tiling: bool) -> Iterator[None]:
    """``--tile`` for one pipeline call: a circular UNet, and a circular VAE — or, when the
    VAE is tiled, a zero-padded VAE fed wrapped margins (see the module docstring)."""
    if not enabled:
        yield
        return
    with ExitStack() as stack:
        stack.enter_context(circular_padding(unet))
        if vae_tiling:
            stack.enter_context(wrapped_vae(vae))
        else:
            stack.enter_context(circular_padding(vae))
        yield


def seam_ratio(image: Image.Image, period: int = 1) -> float:
    """How visible the wrap-around seams are: the mean step across the seams (last column to
    first, last row to first) over the mean step between neighbouring pixels inside, counting
    only the steps at the seam's phase of ``period`` (columns ``k·period - 1 → k·period``).

    About 1 for a seamless tile, clearly above 1 where the edges do not meet. A model's output
    has a texture on its latent grid (``period`` = the VAE's factor, 8): steps at the grid's
    lines are larger than within its cells, and the seam always lies on one, so an image
    judged against every step (``period`` 1) reads about 10% high without being any less
    seamless; judged against the steps at the same phase it does not.
    """
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    columns = np.abs(pixels[:, period::period] - pixels[:, period - 1 : -1 : period]).mean()
    rows = np.abs(pixels[period::period] - pixels[period - 1 : -1 : period]).mean()
    across = np.abs(pixels[:, 0] - pixels[:, -1]).mean() + np.abs(pixels[0] - pixels[-1]).mean()
    return float(across / max(columns + rows, 1e-9))
