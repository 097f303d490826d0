"""``Operation.MIMIC`` through the engine: queued like any job, rendered by the worker's
MimicBrush (built-in here), refused with a clear reason before any model loads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from engine.engine import Engine, EngineConfig
from engine.errors import InvalidRequestError
from engine.mimic.operation import BUILTIN_STEPS, describe_mimic
from engine.request import GenerationRequest, MimicSpec, Operation, Progress


@pytest.fixture
async def engine(model_cache: Path) -> AsyncIterator[Engine]:
    config = EngineConfig(devices=("cpu",), cache_dir=model_cache, mimicbrush="builtin:mimic")
    instance = Engine(config)
    await instance.start()
    yield instance
    await instance.close()


def _source() -> Image.Image:
    image = Image.new("RGB", (80, 56), (30, 120, 200))
    image.paste((220, 40, 40), (0, 0, 30, 20))
    return image


def _mask(box: tuple[int, int, int, int] = (24, 12, 64, 44)) -> Image.Image:
    mask = Image.new("L", (80, 56), 0)
    mask.paste(255, box)
    return mask


def _request(**changes: Any) -> GenerationRequest:
    reference = Image.fromarray(
        np.random.default_rng(1).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    )
    fields: dict[str, Any] = {
        "operation": Operation.MIMIC,
        "source": _source(),
        "mask": _mask(),
        "mimic": MimicSpec(reference, keep_shape=True),
        "seed": 11,
        "steps": 2,
    }
    fields.update(changes)
    return GenerationRequest(**fields)


async def test_a_reference_edit_renders_four_images_keeping_the_outside(engine: Engine) -> None:
    reports: list[Progress] = []
    result = await engine.submit(_request(), on_progress=reports.append).future
    assert result.seeds == (11, 12, 13, 14)
    assert [image.size for image in result.images] == [(80, 56)] * 4
    outside = np.asarray(_mask()) == 0
    source = np.asarray(_source())
    for image in result.images:
        changed = (np.asarray(image) != source).any(axis=-1)
        assert changed[outside].sum() == 0
        assert changed[~outside].mean() > 0.9
    assert result.parameters.operation == "mimic"
    assert result.parameters.references == {
        "images": 1,
        "keep_shape": True,
        "model": "builtin:mimic",
    }
    assert result.model == "builtin:mimic"
    assert reports[-1].percent == 100
    # Without steps, the built-in model's own count.
    default = await engine.submit(_request(steps=None, seed=3)).future
    assert default.steps_run == BUILTIN_STEPS


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"mask": Image.new("L", (40, 40), 255)},
            "the mask is 40×40 but the image is 80×56; the mask must be the image's size",
        ),
        ({"mask": Image.new("L", (80, 56), 0)}, "the mask is empty"),
        ({"mask": Image.new("L", (80, 56), 255)}, "the region covers 100% of the image"),
        ({"mask": None}, "needs a region"),
        ({"mimic": None}, "needs a reference image"),
        ({"source": None}, "needs the image to edit"),
    ],
)
async def test_bad_reference_edits_are_refused_with_the_reason(
    engine: Engine, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        await engine.submit(_request(**changes)).future


def test_start_up_says_which_mimicbrush() -> None:
    assert "fallback on the configured model" in describe_mimic(None)
    assert "MJ_MIMICBRUSH" in describe_mimic(None)
    assert "built-in random MimicBrush" in describe_mimic("builtin:mimic")
    assert (
        describe_mimic("/models/mimicbrush")
        == "reference edits: MimicBrush from /models/mimicbrush"
    )
