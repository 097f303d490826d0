"""The worker renders compatible queued grids in one pipeline call (``EngineConfig.max_batch``)
— in the fair scheduler's order, never taking a job out of turn."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from engine.engine import Engine, EngineConfig
from engine.request import GenerationRequest, GenerationResult, Progress, WeightedText


def grid(text: str, seed: int, **kwargs: object) -> GenerationRequest:
    return GenerationRequest(prompt=(WeightedText(text),), seed=seed, **kwargs)  # type: ignore[arg-type]


async def run_queued(
    model_cache: Path, jobs: list[tuple[str, GenerationRequest]], max_batch: int
) -> tuple[list[GenerationResult], dict[str, list[Progress]]]:
    """Queue every job first (users in the given order), then start the worker: it finds them
    all waiting."""
    engine = Engine(EngineConfig(devices=("cpu",), cache_dir=model_cache, max_batch=max_batch))
    seen: dict[str, list[Progress]] = {}
    handles = []
    for number, (user, request) in enumerate(jobs):
        progress: list[Progress] = []
        seen[f"{user}{number}"] = progress
        handles.append(
            engine.submit(
                request, job_id=f"{user}{number}", user_id=user, on_progress=progress.append
            )
        )
    await engine.start()
    try:
        results = list(await asyncio.gather(*(handle.future for handle in handles)))
    finally:
        await engine.close()
    return results, seen


def batches(results: list[GenerationResult]) -> list[list[int]]:
    """Jobs grouped by the pipeline call they shared (its seconds are every member's)."""
    groups: dict[float, list[int]] = {}
    for index, result in enumerate(results):
        groups.setdefault(result.seconds, []).append(index)
    return sorted(groups.values())


async def test_three_users_grids_share_one_call_and_equal_their_solo_renders(
    model_cache: Path,
) -> None:
    jobs = [
        ("ann", grid("a red fox", 1)),
        ("bob", grid("a blue boat", 20)),
        ("cy", grid("a tree", 7)),
    ]
    together, progress = await run_queued(model_cache, jobs, max_batch=4)
    alone, _ = await run_queued(model_cache, jobs, max_batch=1)
    assert batches(together) == [[0, 1, 2]]
    assert len(batches(alone)) == 3
    for shared, solo in zip(together, alone, strict=True):
        assert shared.seeds == solo.seeds
        for a, b in zip(shared.images, solo.images, strict=True):
            difference = np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int))
            assert difference.max() <= 1  # float batching: one level at most
    for steps in progress.values():
        assert [p.step for p in steps] == sorted(p.step for p in steps)
        assert steps[-1].step == steps[-1].total == together[0].steps_run


async def test_batches_follow_the_fair_order(model_cache: Path) -> None:
    """ann queues two, then bob and cy one each: fair order is ann, bob, cy, ann — so with
    two per call the calls are (ann, bob) and (cy, ann), not ann's two together."""
    jobs = [
        ("ann", grid("a", 1)),
        ("ann", grid("b", 2)),
        ("bob", grid("c", 3)),
        ("cy", grid("d", 4)),
    ]
    results, _ = await run_queued(model_cache, jobs, max_batch=2)
    assert batches(results) == [[0, 2], [1, 3]]


async def test_an_incompatible_job_next_in_turn_ends_the_batch(model_cache: Path) -> None:
    """bob's --tile grid cannot share a call: ann's goes alone, then bob's, then cy's — cy is
    never pulled ahead of bob to fill ann's batch."""
    jobs = [("ann", grid("a", 1)), ("bob", grid("b", 2, tile=True)), ("cy", grid("c", 3))]
    results, _ = await run_queued(model_cache, jobs, max_batch=4)
    assert batches(results) == [[0], [1], [2]]
