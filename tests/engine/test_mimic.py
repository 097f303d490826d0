"""MimicBrush edits with the built-in tiny model: blending, reference attention, depth, cancel."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from PIL import Image

from engine.errors import InvalidRequestError, JobCancelledError
from engine.mimic import MimicModel, builtin_mimic_model, mimic
from engine.mimic.depth import depth_feature, depth_pixels
from engine.mimic.pipeline import FEATHER_RADIUS, pad_to_square, predict_noise
from engine.request import Progress

STEPS = 3


@pytest.fixture(scope="module")
def model() -> MimicModel:
    return builtin_mimic_model()


def _source(colour: tuple[int, int, int] = (30, 120, 200)) -> Image.Image:
    image = Image.new("RGB", (96, 64), colour)
    image.paste((220, 40, 40), (0, 0, 40, 30))
    return image


def _mask() -> Image.Image:
    mask = Image.new("L", (96, 64), 0)
    mask.paste(255, (30, 16, 70, 48))
    return mask


def _reference(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8))


def _array(image: Image.Image) -> np.ndarray[Any, Any]:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_mimic_keeps_the_outside_and_repaints_the_inside(model: MimicModel) -> None:
    source, mask = _source(), _mask()
    results = mimic(model, source, mask, _reference(0), seeds=(0, 1), steps=STEPS)

    assert [r.size for r in results] == [source.size] * 2
    inside = np.asarray(mask) > 0
    for result in results:
        changed = (_array(result) != _array(source)).any(axis=-1)
        assert changed[~inside].sum() == 0  # the feather lies inside the mask
        assert changed[inside].mean() > 0.9
    assert not np.array_equal(_array(results[0]), _array(results[1]))
    assert FEATHER_RADIUS > 0


def test_mimic_image_k_alone_equals_the_batch(model: MimicModel) -> None:
    batch = mimic(model, _source(), _mask(), _reference(0), seeds=(3, 4), steps=STEPS)
    alone = mimic(model, _source(), _mask(), _reference(0), seeds=(4,), steps=STEPS)

    assert np.abs(_array(batch[1]) - _array(alone[0])).max() <= 1


def test_mimic_two_references_give_different_results(model: MimicModel) -> None:
    first = mimic(model, _source(), _mask(), _reference(0), steps=STEPS)[0]
    second = mimic(model, _source(), _mask(), _reference(1), steps=STEPS)[0]

    assert np.abs(_array(first) - _array(second)).max() > 0


def _guided_input(model: MimicModel) -> tuple[Any, Any, Any]:
    import torch

    generator = torch.Generator("cpu").manual_seed(0)
    side = model.side // 8
    sample = torch.randn((4, 13, side, side), generator=generator)  # 2 images × (uncond, cond)
    embeds = torch.randn((4, 5, 8), generator=generator)
    cond = embeds[2:3]
    return sample, embeds, cond


def _reference_latent(seed: int, model: MimicModel) -> Any:
    import torch

    side = model.side // 8
    return torch.randn((1, 4, side, side), generator=torch.Generator("cpu").manual_seed(seed))


def test_mimic_reference_reaches_only_the_conditional_half(model: MimicModel) -> None:
    import torch

    sample, embeds, cond = _guided_input(model)
    with torch.inference_mode():
        first = predict_noise(model, sample, 500, embeds, _reference_latent(1, model), cond)
        second = predict_noise(model, sample, 500, embeds, _reference_latent(2, model), cond)
        model.link.enabled = False
        try:
            plain = predict_noise(model, sample, 500, embeds, _reference_latent(1, model), cond)
        finally:
            model.link.enabled = True

    assert torch.equal(first[:2], second[:2])  # unconditional half: bit-identical
    assert torch.equal(first[:2], plain[:2])  # … and equal to no reference at all
    assert (first[2:] - second[2:]).abs().max() > 1e-4
    assert (first[2:] - plain[2:]).abs().max() > 1e-4


def test_mimic_readers_off_ignore_the_reference_latent(model: MimicModel) -> None:
    import torch

    sample, embeds, cond = _guided_input(model)
    model.link.enabled = False
    try:
        with torch.inference_mode():
            first = predict_noise(model, sample, 500, embeds, _reference_latent(1, model), cond)
            second = predict_noise(model, sample, 500, embeds, _reference_latent(2, model), cond)
    finally:
        model.link.enabled = True

    assert torch.equal(first, second)


def _fed_depth(model: MimicModel, source: Image.Image, keep_shape: bool) -> Any:
    """The depth channels (9–12) the imitative U-Net received at the first step."""
    fed: list[Any] = []

    def capture(_module: Any, args: tuple[Any, ...]) -> None:
        fed.append(args[0][:, 9:13].clone())

    handle = model.imitative_unet.register_forward_pre_hook(capture)
    try:
        mimic(model, source, _mask(), _reference(0), keep_shape=keep_shape, steps=1)
    finally:
        handle.remove()
    return fed[0]


def test_mimic_keep_shape_feeds_the_source_depth(model: MimicModel) -> None:
    import torch

    source, other = _source(), _source((200, 200, 20))
    on, on_other = _fed_depth(model, source, True), _fed_depth(model, other, True)
    off, off_other = _fed_depth(model, source, False), _fed_depth(model, other, False)

    square, _ = pad_to_square(source, "white")
    with torch.inference_mode():
        expected = depth_feature(
            model.depth_model,
            model.depth_guider,
            depth_pixels(square, model.depth_side, keep_shape=True),
            model.side,
        )
        blank = depth_feature(
            model.depth_model,
            model.depth_guider,
            torch.zeros((1, 3, model.depth_side, model.depth_side)),
            model.side,
        )
    assert on.shape == (2, 4, model.side // 8, model.side // 8)
    assert torch.allclose(on, expected.expand_as(on), atol=1e-6)
    assert (on - on_other).abs().max() > 1e-4
    # off: the authors' "zero depth" — an all-zero image through the depth branch, the same
    # for every source
    assert torch.equal(off, off_other)
    assert torch.allclose(off, blank.expand_as(off), atol=1e-6)
    assert (on - off).abs().max() > 1e-4


def test_mimic_cancel_stops_between_steps(model: MimicModel) -> None:
    cancel = threading.Event()
    seen: list[Progress] = []

    def on_progress(progress: Progress) -> None:
        seen.append(progress)
        cancel.set()

    with pytest.raises(JobCancelledError):
        mimic(
            model,
            _source(),
            _mask(),
            _reference(0),
            steps=5,
            cancel=cancel,
            on_progress=on_progress,
        )
    assert [(p.step, p.total) for p in seen] == [(1, 5)]


def test_mimic_rejects_an_empty_or_mis_sized_mask(model: MimicModel) -> None:
    with pytest.raises(InvalidRequestError, match="empty"):
        mimic(model, _source(), Image.new("L", (96, 64), 0), _reference(0), steps=1)
    with pytest.raises(InvalidRequestError, match="mask"):
        mimic(model, _source(), Image.new("L", (10, 10), 255), _reference(0), steps=1)
