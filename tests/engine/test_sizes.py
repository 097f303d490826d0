"""Sizes from --ar at a model's native resolution."""

from __future__ import annotations

import pytest

from engine.errors import InvalidRequestError
from engine.sizes import size_for_aspect


@pytest.mark.parametrize(
    ("aspect", "native", "size"),
    [
        ((1, 1), 1024, (1024, 1024)),
        ((16, 9), 1024, (1344, 768)),
        ((9, 16), 1024, (768, 1344)),
        ((3, 2), 1024, (1280, 832)),
        ((2, 3), 1024, (832, 1280)),
        ((4, 3), 1024, (1152, 896)),
        ((1, 1), 512, (512, 512)),
        ((16, 9), 512, (704, 384)),
        ((2, 3), 512, (448, 640)),
        ((1, 1), 256, (256, 256)),
        ((16, 9), 256, (320, 192)),
        ((2, 3), 256, (192, 320)),
    ],
)
def test_size_for_aspect_documented_sizes(
    aspect: tuple[int, int], native: int, size: tuple[int, int]
) -> None:
    assert size_for_aspect(aspect, native) == size


@pytest.mark.parametrize("aspect", [(1, 1), (7, 4), (21, 9), (1, 3), (139, 100), (4, 1)])
def test_size_for_aspect_keeps_pixel_budget_and_multiples(aspect: tuple[int, int]) -> None:
    width, height = size_for_aspect(aspect, 1024)
    assert width % 64 == 0
    assert height % 64 == 0
    assert 0.8 < width * height / 1024**2 < 1.2
    assert abs(width / height - aspect[0] / aspect[1]) / (aspect[0] / aspect[1]) < 0.12


@pytest.mark.parametrize("aspect", [(5, 1), (1, 100), (0, 1)])
def test_size_for_aspect_rejects_extremes(aspect: tuple[int, int]) -> None:
    with pytest.raises(InvalidRequestError):
        size_for_aspect(aspect, 1024)
