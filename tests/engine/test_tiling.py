"""--tile: circular padding makes the pipeline translation-equivariant on the torus."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.models import LoadedModel
from engine.operations import render
from engine.request import GenerationRequest, Operation, Strength
from engine.tiling import circular_padding, seam_ratio
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
    assert tiled.parameters.tile is True


SEAMLESS = 1.12
"""Seam ratio a seamless tile stays under (tiny renders measure 0.93–1.10 when tiled, 1.2–1.35
when not)."""
SEAMLESS_UPSCALE = 1.3
"""Upscales are smoother inside (2× resampled), which lifts the ratio of even a perfectly
wrapped image (1.1 for the wrapped resize alone); with one denoising step they measure
1.22–1.28 here (the same with the VAE untiled), and 1.31–1.40 before the tiled VAE's wrapped
edges were cross-faded (engine.tiling.unwrap). Before the wrapped VAE at all, the tiled VAE
wrapping each tile on itself measured 2.1–2.2."""


def test_seam_ratio_tells_tiles_from_plain_images(tiny: LoadedModel) -> None:
    tiled = render(tiny, GenerationRequest(prompt=PROMPT, seeds=(1, 2), count=2, tile=True))
    plain = render(tiny, GenerationRequest(prompt=PROMPT, seeds=(1, 2), count=2))
    assert max(seam_ratio(i) for i in tiled.images) < SEAMLESS
    assert min(seam_ratio(i) for i in plain.images) > SEAMLESS


@pytest.mark.parametrize(
    ("operation", "strength"),
    [
        (Operation.UPSCALE, Strength.SUBTLE),
        (Operation.UPSCALE, Strength.STRONG),
        (Operation.VARIATION, Strength.SUBTLE),
        (Operation.VARIATION, Strength.STRONG),
    ],
)
@pytest.mark.parametrize("fixture", ["tiny", "tiny_sdxl"])
def test_follow_ups_of_tiles_stay_seamless(
    fixture: str, operation: Operation, strength: Strength, request: pytest.FixtureRequest
) -> None:
    model: LoadedModel = request.getfixturevalue(fixture)
    tile = render(
        model, GenerationRequest(prompt=PROMPT, seeds=(1,), count=1, tile=True, steps=4)
    ).images[0]
    child = render(
        model,
        GenerationRequest(
            operation=operation,
            prompt=PROMPT,
            source=tile,
            strength=strength,
            seeds=(5,),
            count=1,
            tile=True,
            steps=4,
        ),
    ).images[0]
    if operation is Operation.UPSCALE:
        assert child.size == (512, 512)  # over the VAE's tile size: the tiled VAE ran
        assert seam_ratio(child) < SEAMLESS_UPSCALE
    else:
        assert seam_ratio(child) < SEAMLESS
    assert not model.text2img.vae.use_tiling


def test_unwrap_gives_both_sides_of_the_wrap_the_same_mixture() -> None:
    """A tiled VAE's output over wrapped margins: the left part comes from one tile, the right
    from another whose version is off by up to +6, blended in between (a smooth ramp here).
    Cropping joined the two versions at the wrap (a step of 6 on top of the pattern's own);
    the cross-fade leaves the wrap's step the pattern's own, and the middle untouched."""
    from engine.tiling import unwrap

    margin, size = 4, 16
    pattern = torch.tensor([0.0, 1.0, 2.0, 1.0]).repeat(size // 4)  # periodic, steps of 1
    padded = torch.nn.functional.pad(
        pattern[None, None, None, :], (margin, margin, 0, 0), "circular"
    )
    padded = padded + torch.linspace(0.0, 6.0, size + 2 * margin)  # tile A's version drifts
    padded = padded.expand(1, 1, size + 2 * margin, -1).contiguous()
    cropped = padded[..., margin:-margin, margin:-margin]
    out = unwrap(padded, margin)
    assert out.shape == (1, 1, size, size)
    wrap_before = (cropped[..., -1] - cropped[..., 0]).abs().max().item()
    wrap_after = (out[..., -1] - out[..., 0]).abs().max().item()
    assert wrap_before > 4.5  # 1 (the pattern's step) + about 4 (the two versions)
    assert wrap_after < 1.6  # the pattern's step, plus a little of the drift
    middle = (slice(None), slice(None), slice(None), slice(margin, -margin))
    assert torch.equal(cropped[middle], out[middle])
    assert torch.equal(unwrap(padded, 0), padded)


def test_tiled_vae_is_restored_after_a_tile_upscale(tiny: LoadedModel) -> None:
    vae = tiny.text2img.vae
    assert "decode" not in vars(vae)
    assert "encode" not in vars(vae)
