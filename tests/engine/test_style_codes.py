"""Numeric --sref style codes: one code, one style; different codes, different styles."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engine.errors import InvalidRequestError
from engine.style_codes import STYLE_CODE_MAX, random_style_code, style_image

CODES = [0, 1, 2, 3, 42, 1000, 65_535, 762_351_716, STYLE_CODE_MAX, *range(100, 111)]


@pytest.fixture(scope="module")
def styles() -> list[np.ndarray]:
    return [np.asarray(style_image(code, 128), dtype=np.float64) for code in CODES]


@pytest.mark.parametrize("code", [0, 762_351_716, STYLE_CODE_MAX])
def test_style_image_is_the_same_every_time(code: int) -> None:
    first, second = style_image(code), style_image(code)

    assert first.mode == "RGB"
    assert first.tobytes() == second.tobytes()


def test_style_image_differs_between_codes(styles: list[np.ndarray]) -> None:
    differences = [np.abs(a - b).mean() for a, b in itertools.combinations(styles, 2)]

    assert len(styles) == 20
    assert min(differences) > 15  # of 255, on average over the pixels, for every pair


def test_style_image_palettes_differ_between_codes(styles: list[np.ndarray]) -> None:
    mean_colours = np.array([s.reshape(-1, 3).mean(axis=0) for s in styles])

    assert (mean_colours.std(axis=0) > 30).all()
    assert len({tuple(np.round(c / 32)) for c in mean_colours}) >= 10


def test_style_image_has_more_than_one_colour(styles: list[np.ndarray]) -> None:
    for style in styles:
        assert style.reshape(-1, 3).std(axis=0).mean() > 5


@pytest.mark.parametrize("size", [1, 2, 7, 64, 300, 512])
def test_style_image_honours_the_size(size: int) -> None:
    image = style_image(762_351_716, size)

    assert image.size == (size, size)
    assert image.mode == "RGB"


@pytest.mark.parametrize("code", [5, 762_351_716])
def test_style_image_keeps_its_colours_at_every_size(code: int) -> None:
    small = np.asarray(style_image(code, 128), dtype=np.float64).reshape(-1, 3).mean(axis=0)
    large = np.asarray(style_image(code, 512), dtype=np.float64).reshape(-1, 3).mean(axis=0)

    assert np.abs(small - large).max() < 6


@pytest.mark.parametrize("code", [-1, STYLE_CODE_MAX + 1, 10**12])
def test_style_image_rejects_codes_out_of_range(code: int) -> None:
    with pytest.raises(InvalidRequestError, match="style code"):
        style_image(code)


@pytest.mark.parametrize("size", [0, -3, 4096])
def test_style_image_rejects_bad_sizes(size: int) -> None:
    with pytest.raises(InvalidRequestError, match="size"):
        style_image(1, size)


def test_random_style_code_is_a_valid_fresh_code() -> None:
    codes = {random_style_code() for _ in range(20)}

    assert all(0 <= code <= STYLE_CODE_MAX for code in codes)
    assert len(codes) > 1
    assert style_image(codes.pop(), 16).size == (16, 16)
