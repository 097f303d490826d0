"""Sizes from --ar at a model's native resolution: ratio error and pixel budget, every ratio."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.errors import InvalidRequestError
from engine.sizes import MAX_ASPECT, SIDE_MULTIPLE, size_for_aspect, tile_multiple

# Every whole-number ratio up to 32:32 between 1:4 and 4:1, reduced (about 600 ratios).
RATIOS = sorted(
    {
        Fraction(w, h)
        for w in range(1, 33)
        for h in range(1, 33)
        if 1 / MAX_ASPECT <= w / h <= MAX_ASPECT
    }
)
# The targets: ratio error at native 512 and 1024 ≤ 1.5%, at 256 ≤ 5%.
RATIO_TARGET = {256: 0.05, 512: 0.015, 768: 0.015, 1024: 0.015}


@pytest.mark.parametrize(
    ("aspect", "native", "size"),
    [
        ((1, 1), 1024, (1024, 1024)),
        ((16, 9), 1024, (1360, 768)),
        ((9, 16), 1024, (768, 1360)),
        ((3, 2), 1024, (1248, 832)),
        ((2, 3), 1024, (832, 1248)),
        ((4, 3), 1024, (1184, 880)),
        ((1, 1), 512, (512, 512)),
        ((16, 9), 512, (688, 384)),
        ((2, 3), 512, (416, 624)),
        ((1, 1), 256, (256, 256)),
        ((16, 9), 256, (336, 192)),
        ((4, 5), 256, (224, 288)),
        ((4, 1), 256, (512, 128)),
    ],
)
def test_size_for_aspect_documented_sizes(
    aspect: tuple[int, int], native: int, size: tuple[int, int]
) -> None:
    assert size_for_aspect(aspect, native) == size


@pytest.mark.parametrize("native", sorted(RATIO_TARGET))
def test_every_ratio_is_close_and_keeps_the_pixel_budget(native: int) -> None:
    worst_ratio = worst_pixels = 0.0
    for ratio in RATIOS:
        width, height = size_for_aspect((ratio.numerator, ratio.denominator), native)
        assert width % SIDE_MULTIPLE == 0
        assert height % SIDE_MULTIPLE == 0
        worst_ratio = max(worst_ratio, abs(width / height / float(ratio) - 1))
        worst_pixels = max(worst_pixels, abs(width * height / native**2 - 1))
    assert worst_ratio <= RATIO_TARGET[native]
    assert worst_pixels <= 0.10


def test_ratios_that_64_px_sides_merged_are_told_apart_at_native_256() -> None:
    # With 64-px sides 16:9, 7:4, 3:2 and 4:3 were all 320×192 and 4:5 was square.
    sizes = {size_for_aspect(a, 256) for a in [(16, 9), (3, 2), (4, 3), (4, 5), (1, 1)]}
    assert len(sizes) == 5


def test_tile_keeps_the_coarser_multiple_its_unet_needs() -> None:
    assert tile_multiple(8, 3) == 64  # SD 1.5: three downsamplers
    assert tile_multiple(8, 2) == 32  # SDXL
    assert tile_multiple(8, 1) == 16  # the built-in tiny models
    for native, multiple in ((1024, 32), (512, 64), (256, 64)):
        for ratio in (Fraction(16, 9), Fraction(2, 3), Fraction(4, 1)):
            width, height = size_for_aspect((ratio.numerator, ratio.denominator), native, multiple)
            assert width % multiple == 0
            assert height % multiple == 0


@pytest.mark.parametrize("aspect", [(5, 1), (1, 100), (0, 1), (1, 5), (401, 100)])
def test_size_for_aspect_rejects_extremes(aspect: tuple[int, int]) -> None:
    with pytest.raises(InvalidRequestError, match="aspect ratio"):
        size_for_aspect(aspect, 1024)


def test_the_limit_is_four_to_one_inclusive() -> None:
    assert MAX_ASPECT == 4.0
    assert size_for_aspect((4, 1), 1024) == (2048, 512)
    assert size_for_aspect((1, 4), 1024) == (512, 2048)


@pytest.mark.parametrize("blocks", [4, 3], ids=["sd15-layout", "sdxl-layout"])
def test_unet_forwards_every_produced_latent_size(blocks: int) -> None:
    """Sides in multiples of 16 give latents that stop halving evenly deeper in a real UNet
    (SD 1.5 halves three times): it must still give back a latent of the input's size."""
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8,) * blocks,
        attention_head_dim=4,
        layers_per_block=1,
        norm_num_groups=2,
        down_block_types=("DownBlock2D",) * blocks,
        up_block_types=("UpBlock2D",) * blocks,
        cross_attention_dim=8,
        sample_size=32,
    )
    sizes = {
        size_for_aspect((r.numerator, r.denominator), native)
        for native in (512, 1024)
        for r in (Fraction(16, 9), Fraction(3, 2), Fraction(4, 5), Fraction(21, 9), Fraction(1, 4))
    }
    odd_levels = 0
    with torch.no_grad():
        for width, height in sorted(sizes):
            latent = torch.randn(1, 4, height // 8, width // 8)
            odd_levels += any(side % 2 ** (blocks - 1) for side in latent.shape[2:])
            out = unet(latent, 10, encoder_hidden_states=torch.zeros(1, 2, 8)).sample
            assert out.shape == latent.shape
    assert odd_levels > 0  # the sizes do exercise the uneven path
