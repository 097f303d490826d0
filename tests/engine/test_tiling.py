"""--tile: circular padding makes the pipeline translation-equivariant on the torus."""

from __future__ import annotations

import numpy as np
import torch

from engine.models import LoadedModel
from engine.operations import render
from engine.request import GenerationRequest
from engine.tiling import circular_padding
from tests.engine.conftest import PROMPT
from tests.engine.helpers import mean_diff

SHIFT = 4  # latent pixels; a multiple of 2^(UNet downsamplers) keeps the grid aligned


def _render_from(model: LoadedModel, latents: torch.Tensor, tile: bool) -> np.ndarray:
    pipe = model.text2img
    with circular_padding(pipe.unet, pipe.vae, enabled=tile):
        out = pipe(
            prompt="a seamless pattern",
            num_inference_steps=4,
            latents=latents.clone(),
            height=256,
            width=256,
            output_type="np",
        )
    return np.asarray(out.images[0])


def test_tile_rolling_the_noise_rolls_the_image(tiny: LoadedModel) -> None:
    noise = torch.randn((1, 4, 32, 32), generator=torch.Generator("cpu").manual_seed(0))
    rolled = torch.roll(noise, shifts=(SHIFT, SHIFT), dims=(2, 3))
    pixels = SHIFT * tiny.vae_scale_factor
    tiled = np.roll(_render_from(tiny, noise, tile=True), (pixels, pixels), (0, 1))
    tiled_rolled = _render_from(tiny, rolled, tile=True)
    plain = np.roll(_render_from(tiny, noise, tile=False), (pixels, pixels), (0, 1))
    plain_rolled = _render_from(tiny, rolled, tile=False)
    assert np.abs(tiled - tiled_rolled).max() < 1e-4
    assert np.abs(plain - plain_rolled).max() > 0.05


def test_tile_is_switched_per_request(tiny: LoadedModel) -> None:
    convs = [m for m in tiny.text2img.unet.modules() if isinstance(m, torch.nn.Conv2d)]
    tiled = render(tiny, GenerationRequest(prompt=PROMPT, seed=1, tile=True))
    assert all(conv.padding_mode == "zeros" for conv in convs)  # restored afterwards
    plain = render(tiny, GenerationRequest(prompt=PROMPT, seed=1))
    assert mean_diff(tiled.images[0], plain.images[0]) > 0.5
    assert tiled.parameters["tile"] is True
