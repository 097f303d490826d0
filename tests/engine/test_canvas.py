"""Zoom, pan and make square on any image: canvases scaled to the model's pixel budget, and
the pure check the bot uses to show only buttons that can run."""

from __future__ import annotations

import pytest
from PIL import Image

from engine.canvas import CANVAS_PIXEL_BUDGET, can_outpaint, canvas_size, outpaint_canvas
from engine.errors import InvalidRequestError
from engine.models import LoadedModel
from engine.operations import render
from engine.request import GenerationRequest, Operation, OutpaintSpec, PanDirection
from engine.sizes import MAX_ASPECT
from tests.engine.conftest import PROMPT

SPECS = [
    OutpaintSpec(zoom=2.0),
    OutpaintSpec(zoom=1.5),
    OutpaintSpec(zoom=1.0, aspect=(1, 2)),
    OutpaintSpec(make_square=True),
    *(OutpaintSpec(pan=d) for d in PanDirection),
]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_sdxl_upscale_of_16_9_fits_the_budget(spec: OutpaintSpec) -> None:
    """Every Zoom/Pan/Make Square under a 16:9 SDXL upscale (2720×1536 now) was refused after
    queueing (limit 2.5× native a side)."""
    source = Image.new("RGB", (2720, 1536), (90, 120, 150))
    assert can_outpaint(*source.size, spec)
    canvas = outpaint_canvas(source, spec, native=1024)
    width, height = canvas.image.size
    assert width * height <= CANVAS_PIXEL_BUDGET * 1024**2 * 1.03  # sides rounded to 16
    assert width % 16 == 0
    assert height % 16 == 0
    expected = canvas_size(*source.size, spec)
    assert width / height == pytest.approx(expected[0] / expected[1], rel=0.03)
    assert canvas.mask.size == canvas.image.size


def test_small_canvases_keep_full_resolution() -> None:
    source = Image.new("RGB", (1024, 1024))
    once = outpaint_canvas(source, OutpaintSpec(pan=PanDirection.RIGHT), native=1024)
    assert once.image.size == (1536, 1024)
    assert once.box == (0, 0, 1024, 1024)  # the original unscaled
    twice = outpaint_canvas(once.image, OutpaintSpec(pan=PanDirection.RIGHT), native=1024)
    assert twice.image.size == (2304, 1024)  # 2.25 × native²: still within the budget


def test_a_16_9_grid_image_pans_twice_the_same_way_and_then_shows_no_button() -> None:
    size = (1360, 768)
    right = OutpaintSpec(pan=PanDirection.RIGHT)
    steps = []
    while can_outpaint(*size, right):
        size = outpaint_canvas(Image.new("RGB", size), right, native=1024).image.size
        steps.append(size)
    assert len(steps) == 2
    assert max(size) <= MAX_ASPECT * min(size)
    assert can_outpaint(*size, OutpaintSpec(pan=PanDirection.UP))  # the other way still works
    with pytest.raises(InvalidRequestError, match="more elongated than 1:4"):
        canvas_size(*size, right)


def test_check_refuses_what_cannot_run() -> None:
    assert not can_outpaint(512, 512, OutpaintSpec(zoom=2.5))
    assert not can_outpaint(0, 512, OutpaintSpec(zoom=2.0))
    assert not can_outpaint(512, 512, OutpaintSpec(zoom=1.0, aspect=(1, 5)))
    assert can_outpaint(4096, 512, OutpaintSpec(make_square=True))


def test_outpaint_of_an_upscale_renders_at_the_budget(tiny: LoadedModel) -> None:
    """On the tiny model (native 256) a pan of a 16:9 upscale (672×384) used to be refused."""
    upscale = Image.new("RGB", (672, 384), (200, 80, 40))
    result = render(
        tiny,
        GenerationRequest(
            operation=Operation.OUTPAINT,
            prompt=PROMPT,
            source=upscale,
            outpaint=OutpaintSpec(pan=PanDirection.RIGHT),
            seeds=(1,),
            count=1,
            steps=2,
        ),
    )
    width, height = result.images[0].size
    assert width * height <= CANVAS_PIXEL_BUDGET * 256**2 * 1.03
    assert width / height == pytest.approx(1008 / 384, rel=0.05)
