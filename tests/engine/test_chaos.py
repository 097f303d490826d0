"""--chaos raises the diversity of the grid's composition, measured on 8×8 thumbnails."""

from __future__ import annotations

import itertools

import pytest
import torch
from PIL import Image

from engine.chaos import layout_noise, layout_share
from engine.models import LoadedModel
from engine.operations import render
from engine.request import GenerationRequest, Operation
from tests.engine.conftest import PROMPT
from tests.engine.helpers import layout_diversity, max_diff

CHAOS_LEVELS = (0, 25, 50, 75, 100)


def imagine(model: LoadedModel, chaos: int, seed: int) -> list[Image.Image]:
    request = GenerationRequest(prompt=PROMPT, seed=seed, chaos=chaos, steps=4)
    return list(render(model, request).images)


@pytest.mark.parametrize("fixture", ["tiny", "tiny_sdxl"])
def test_chaos_raises_layout_diversity_monotonically(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # On the tiny models the images' low frequencies follow the starting noise, as a real
    # model's composition does; at --chaos 0 the seeds alone make them differ (about 5).
    model: LoadedModel = request.getfixturevalue(fixture)
    curve = [layout_diversity(imagine(model, chaos, seed=11)) for chaos in CHAOS_LEVELS]
    assert all(a < b for a, b in itertools.pairwise(curve)), curve
    assert curve[-1] > 1.8 * curve[0], curve


def test_chaos_is_reproducible_per_seed(tiny: LoadedModel) -> None:
    grid = imagine(tiny, 100, seed=11)
    assert max_diff(grid[2], imagine(tiny, 100, seed=11)[2]) == 0
    alone = render(
        tiny, GenerationRequest(prompt=PROMPT, seeds=(13,), count=1, chaos=100, steps=4)
    ).images[0]
    assert max_diff(alone, grid[2]) <= 1  # image 3 of seed 11 is seed 13, alone or not


def test_layout_noise_keeps_unit_variance_and_grows_the_low_frequencies() -> None:
    noise = torch.randn((4, 4, 64, 64), generator=torch.Generator().manual_seed(0))
    seeds = (1, 2, 3, 4)
    previous = -1.0
    for chaos in CHAOS_LEVELS:
        mixed = layout_noise(noise, seeds, chaos)
        assert float(mixed.std()) == pytest.approx(1.0, abs=0.05)
        coarse = torch.nn.functional.avg_pool2d(mixed, 8)  # the 8×8-cell layout
        spread = float(coarse.std())
        assert spread > previous
        previous = spread
    assert layout_share(0) == 0
    assert layout_share(100) == 0.5
    assert torch.equal(layout_noise(noise, seeds, 0), noise)  # --chaos 0 changes nothing


def test_vary_region_honours_chaos(tiny: LoadedModel) -> None:
    source = render(tiny, GenerationRequest(prompt=PROMPT, seeds=(9,), count=1, steps=4))
    mask = Image.new("L", (256, 256), 0)
    mask.paste(255, (32, 32, 224, 224))

    def region(chaos: int) -> list[Image.Image]:
        edit = GenerationRequest(
            operation=Operation.REGION,
            prompt=PROMPT,
            source=source.images[0],
            mask=mask,
            seed=4,
            chaos=chaos,
            steps=4,
        )
        return [i.crop((32, 32, 224, 224)) for i in render(tiny, edit).images]

    calm, wild = layout_diversity(region(0)), layout_diversity(region(100))
    assert wild > 1.5 * calm, (calm, wild)
