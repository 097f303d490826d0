"""Display size: small models' images are enlarged by a whole factor, exactly reversibly."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.display import DISPLAY_SIDE, display_factor, for_display, for_model
from engine.errors import InvalidRequestError


def _noise(width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    ("native", "factor"), [(64, 4), (96, 3), (100, 3), (128, 2), (256, 1), (512, 1), (1024, 1)]
)
def test_factor_makes_cells_at_least_the_display_side(native: int, factor: int) -> None:
    assert display_factor(native) == factor
    assert native * factor >= DISPLAY_SIDE


def test_enlarging_is_nearest_neighbour_blocks() -> None:
    image = _noise(64, 48)
    big = for_display(image, 64)
    assert big.size == (256, 192)
    small, large = np.asarray(image), np.asarray(big)
    assert np.array_equal(large, small.repeat(4, axis=0).repeat(4, axis=1))


def test_reducing_gives_back_the_model_pixels_exactly() -> None:
    image = _noise(64, 64)
    assert np.array_equal(np.asarray(for_model(for_display(image, 64), 64)), np.asarray(image))


def test_real_models_pass_through_untouched() -> None:
    image = _noise(512, 512)
    assert for_display(image, 512) is image
    assert for_model(image, 512) is image


def test_uneven_uploads_are_cropped_to_the_factor() -> None:
    assert for_model(_noise(258, 130), 64).size == (64, 32)
    with pytest.raises(InvalidRequestError, match="too small"):
        for_model(_noise(3, 300), 64)
