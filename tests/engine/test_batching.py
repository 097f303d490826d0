"""Several users' first grids in one pipeline call: keys, equality with rendering alone,
progress, previews, cancel and out-of-memory per member."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from PIL import Image

from engine.batching import batch_key, render_batch
from engine.errors import (
    EngineError,
    GPUOutOfMemoryError,
    InvalidRequestError,
    JobCancelledError,
)
from engine.loras import LoraUse
from engine.models import LoadedModel
from engine.operations import render
from engine.request import (
    GenerationRequest,
    GenerationResult,
    Operation,
    Progress,
    Reference,
    ReferenceRole,
    Style,
    WeightedText,
)
from tests.engine.helpers import max_diff, mean_diff

# Stacking grids changes the float rounding of the batched convolutions and matmuls on CPU:
# measured on builtin:tiny, at most one 8-bit level on a few pixels (max 1, mean ≤ 1.4e-4).
MAX_PIXEL_DIFF = 1
MEAN_PIXEL_DIFF = 0.01

FOX = GenerationRequest(prompt=(WeightedText("a red fox in the snow"),), seed=1)
BOAT = GenerationRequest(
    prompt=(WeightedText("a blue boat"),), seed=50, negative=("trees", "fog"), weird=300
)
CASTLE = GenerationRequest(
    prompt=(WeightedText("a castle"), WeightedText("storm clouds", 0.5)),
    seeds=(9,),
    count=1,
    style=Style.RAW,
)


def results(outcomes: list[GenerationResult | EngineError]) -> list[GenerationResult]:
    assert all(isinstance(o, GenerationResult) for o in outcomes), outcomes
    return [o for o in outcomes if isinstance(o, GenerationResult)]


def batch(
    model: LoadedModel, *requests: GenerationRequest, **kwargs: Any
) -> list[GenerationResult | EngineError]:
    kwargs.setdefault("cancels", [None] * len(requests))
    kwargs.setdefault("on_progress", [None] * len(requests))
    return render_batch(model, requests, **kwargs)


def test_batch_of_one_is_bit_identical_to_render(tiny: LoadedModel) -> None:
    (batched,) = results(batch(tiny, FOX))
    alone = render(tiny, FOX)
    assert batched.seeds == alone.seeds
    assert [max_diff(a, b) for a, b in zip(batched.images, alone.images, strict=True)] == [0] * 4
    assert batched.parameters == alone.parameters
    assert (batched.width, batched.height, batched.steps_run, batched.model) == (
        alone.width,
        alone.height,
        alone.steps_run,
        alone.model,
    )


def test_batch_members_get_their_own_images_as_if_rendered_alone(tiny: LoadedModel) -> None:
    requests = (FOX, BOAT, CASTLE)
    assert len({batch_key(tiny, r) for r in requests}) == 1
    batched = results(batch(tiny, *requests))
    alone = [render(tiny, r) for r in requests]
    for mine, own in zip(batched, alone, strict=True):
        assert mine.seeds == own.seeds
        assert mine.parameters == own.parameters
        assert len(mine.images) == len(own.images)
        for a, b in zip(mine.images, own.images, strict=True):
            assert max_diff(a, b) <= MAX_PIXEL_DIFF
            assert mean_diff(a, b) < MEAN_PIXEL_DIFF
    # Order: the fox's cells are the fox's, not the boat's.
    assert all(mean_diff(a, b) > 1 for a, b in zip(batched[0].images, alone[1].images, strict=True))
    assert batched[0].seconds == batched[1].seconds == batched[2].seconds


def test_batch_members_with_the_same_chaos_match_their_renders_alone(
    tiny: LoadedModel,
) -> None:
    requests = (replace(FOX, chaos=60, steps=4), replace(BOAT, chaos=60, steps=4))
    batched = results(batch(tiny, *requests))
    for mine, request in zip(batched, requests, strict=True):
        own = render(tiny, request)
        for a, b in zip(mine.images, own.images, strict=True):
            assert max_diff(a, b) <= MAX_PIXEL_DIFF
            assert mean_diff(a, b) < MEAN_PIXEL_DIFF


def test_batch_key_is_shared_by_requests_differing_only_per_image(tiny: LoadedModel) -> None:
    key = batch_key(tiny, FOX)
    assert key is not None
    for other in (BOAT, CASTLE, replace(FOX, seed=None), replace(FOX, count=2, seed=3)):
        assert batch_key(tiny, other) == key


@pytest.mark.parametrize(
    "change",
    [
        {"aspect": (2, 3)},
        {"steps": 4},
        {"quality": 0.5},
        {"stylize": 250},
        {"stop": 50},
        {"chaos": 40},
        {"version": "niji 6"},
        {"tile": True},
        {"references": (Reference(ReferenceRole.IMAGE, Image.new("RGB", (64, 64))),)},
        {"loras": (LoraUse("ink"),)},
        {"operation": Operation.VARIATION, "source": Image.new("RGB", (64, 64))},
        {"stylize": 5000},
    ],
    ids=lambda change: ",".join(change),
)
def test_batch_key_differs_for_each_incompatibility(
    tiny: LoadedModel, change: dict[str, Any]
) -> None:
    assert batch_key(tiny, replace(FOX, **change)) != batch_key(tiny, FOX)


def test_render_batch_refuses_requests_with_different_keys(tiny: LoadedModel) -> None:
    with pytest.raises(InvalidRequestError):
        batch(tiny, FOX, replace(BOAT, aspect=(2, 3)))
    with pytest.raises(InvalidRequestError):
        batch(tiny, replace(FOX, tile=True))
    with pytest.raises(InvalidRequestError):
        render_batch(tiny, [FOX, BOAT], cancels=[None], on_progress=[None, None])


def recorder() -> tuple[list[Progress], Callable[[Progress], None]]:
    seen: list[Progress] = []
    return seen, seen.append


def grid_width(images: list[Image.Image]) -> Image.Image:
    """A preview as wide as the number of cells it shows (8 px each)."""
    return Image.new("RGB", (8 * len(images), 8))


def test_batch_progress_reaches_each_member_with_its_own_preview(tiny: LoadedModel) -> None:
    fox, on_fox = recorder()
    castle, on_castle = recorder()
    batch(tiny, FOX, CASTLE, on_progress=[on_fox, on_castle], on_preview=grid_width)
    for seen, cells in ((fox, 4), (castle, 1)):
        steps = [p.step for p in seen]
        assert steps == sorted(steps)
        assert steps[0] == 1
        assert seen[-1].step == seen[-1].total == 8
        previews = [p.preview for p in seen if p.preview is not None]
        assert previews
        assert all(p.size == (8 * cells, 8) for p in previews)


def test_cancelled_member_gets_job_cancelled_while_the_others_complete(
    tiny: LoadedModel,
) -> None:
    boat_cancel, early = threading.Event(), threading.Event()
    early.set()
    boat, on_boat = recorder()

    def cancel_at_two(progress: Progress) -> None:
        on_boat(progress)
        if progress.step == 2:
            boat_cancel.set()

    outcomes = batch(
        tiny,
        FOX,
        BOAT,
        CASTLE,
        cancels=[None, boat_cancel, early],
        on_progress=[None, cancel_at_two, None],
    )
    assert isinstance(outcomes[1], JobCancelledError)
    assert isinstance(outcomes[2], JobCancelledError)
    assert [p.step for p in boat] == [1, 2]  # nothing after the cancel
    fox = outcomes[0]
    assert isinstance(fox, GenerationResult)
    assert len(fox.images) == 4
    alone = render(tiny, FOX)
    assert all(
        max_diff(a, b) <= MAX_PIXEL_DIFF for a, b in zip(fox.images, alone.images, strict=True)
    )


def test_batch_stops_early_when_every_member_is_cancelled(tiny: LoadedModel) -> None:
    cancels = [threading.Event(), threading.Event()]
    calls: list[int] = []

    def cancel_all_at_two(progress: Progress) -> None:
        if progress.step == 2:
            for event in cancels:
                event.set()

    handle = tiny.text2img.unet.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        outcomes = batch(tiny, FOX, BOAT, cancels=cancels, on_progress=[cancel_all_at_two, None])
    finally:
        handle.remove()
    assert all(isinstance(o, JobCancelledError) for o in outcomes)
    assert len(calls) == 3 < 8  # stopped at the step after the cancel


def test_out_of_memory_fails_every_member(tiny: LoadedModel) -> None:
    import torch

    def exhausted(*_: object) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    handle = tiny.text2img.unet.register_forward_pre_hook(exhausted)
    try:
        outcomes = batch(tiny, FOX, BOAT)
    finally:
        handle.remove()
    assert all(isinstance(o, GPUOutOfMemoryError) for o in outcomes)
