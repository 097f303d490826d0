"""The house style: --style raw, --stylize strength, niji styles, and the configured look."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from engine.conditioning import guidance_for_stylize
from engine.errors import InvalidRequestError
from engine.house_style import HouseStyle, HouseStyles, check_style, style_strength
from engine.models import LoadedModel
from engine.operations import render
from engine.request import GenerationRequest, Style
from tests.engine.conftest import PROMPT
from tests.engine.helpers import max_diff, mean_diff

SEEDS = (3, 4, 5, 6)
PAIR = (3, 30)
STEPS = 4
CHANGED = 0.05
"""Mean 8-bit difference well above float noise: the tiny models' character-level tokenizer
sees only the start of a style text, so a style's effect on them is small but exact zero
without it."""


def grid(
    model: LoadedModel,
    house: HouseStyles | None = None,
    seeds: tuple[int, ...] = PAIR,
    **changes: object,
) -> list:
    request = GenerationRequest(
        prompt=PROMPT,
        seeds=seeds,
        count=len(seeds),
        steps=STEPS,
        **changes,  # type: ignore[arg-type]
    )
    if house is None:
        return list(render(model, request).images)
    return list(render(model, request, house=house).images)


def distance(first: list, second: list) -> float:
    return float(np.mean([mean_diff(a, b) for a, b in zip(first, second, strict=True)]))


def test_raw_differs_from_the_default_house_style(tiny: LoadedModel) -> None:
    assert distance(grid(tiny), grid(tiny, style=Style.RAW)) > 0.5


def test_raw_at_stylize_0_is_the_plain_prompt_rendered_by_diffusers(tiny: LoadedModel) -> None:
    raw = grid(tiny, seeds=SEEDS, style=Style.RAW, stylize=0)
    plain = tiny.text2img(
        prompt=[PROMPT[0].text] * 4,
        negative_prompt=[""] * 4,
        guidance_scale=guidance_for_stylize(0),
        num_inference_steps=STEPS,
        generator=[torch.Generator("cpu").manual_seed(s) for s in SEEDS],
        height=256,
        width=256,
    ).images
    assert all(max_diff(a, b) == 0 for a, b in zip(raw, plain, strict=True))


def test_the_distance_from_raw_grows_with_stylize(tiny: LoadedModel) -> None:
    curve = []
    for stylize in (0, 100, 250, 500, 1000):
        curve.append(
            distance(grid(tiny, stylize=stylize), grid(tiny, stylize=stylize, style=Style.RAW))
        )
    assert curve[0] == 0  # --s 0: no house style at all
    assert all(a < b for a, b in itertools.pairwise(curve)), curve


def test_strength_curve() -> None:
    assert [style_strength(s) for s in (0, 100, 250, 1000)] == pytest.approx(
        [0, 0.3162, 0.5, 1], abs=1e-4
    )
    with pytest.raises(InvalidRequestError, match="stylize"):
        style_strength(1001)


def test_the_configured_house_style_is_what_renders(tiny: LoadedModel) -> None:
    none = HouseStyles(default=HouseStyle())
    assert distance(grid(tiny, house=none), grid(tiny, style=Style.RAW)) == 0
    mine = HouseStyles(default=HouseStyle("in the style of a woodcut", "colour"))
    assert distance(grid(tiny, house=mine), grid(tiny)) > CHANGED


def test_guidance_tweak_scales_with_the_strength(tiny: LoadedModel) -> None:
    house = HouseStyles(default=HouseStyle("", "", guidance=2.0))
    request = GenerationRequest(prompt=PROMPT, seeds=(1,), count=1, stylize=250, steps=2)
    result = render(tiny, request, house=house)
    assert result.parameters.guidance_scale == pytest.approx(guidance_for_stylize(250) + 1.0)


def test_niji_styles_need_a_niji_model(tiny: LoadedModel) -> None:
    with pytest.raises(InvalidRequestError, match="--style cute needs --niji"):
        grid(tiny, style=Style.CUTE)
    cute = grid(tiny, style=Style.CUTE, version="niji")
    assert distance(cute, grid(tiny, version="niji")) > CHANGED
    assert distance(cute, grid(tiny, style=Style.RAW, version="niji")) > CHANGED


def test_check_style_accepts_only_known_styles() -> None:
    assert check_style(None, niji=False) is None
    assert check_style("raw", niji=False) is Style.RAW
    assert check_style("RAW", niji=True) is Style.RAW
    assert check_style("scenic", niji=True) is Style.SCENIC
    with pytest.raises(InvalidRequestError, match="--style banana is not a known style; use raw"):
        check_style("banana", niji=False)
    with pytest.raises(InvalidRequestError, match="need --niji"):
        check_style("cute", niji=False)


def test_sdxl_raw_differs_and_raw_at_0_is_the_default_at_0(tiny_sdxl: LoadedModel) -> None:
    assert distance(grid(tiny_sdxl), grid(tiny_sdxl, style=Style.RAW)) > 0.3
    at_zero = grid(tiny_sdxl, stylize=0)
    assert all(
        max_diff(a, b) == 0
        for a, b in zip(at_zero, grid(tiny_sdxl, stylize=0, style=Style.RAW), strict=True)
    )
