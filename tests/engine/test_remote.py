"""Remote GPU workers, tier 1: the engine's ServeExecutor against the real protocol-v1
service (aiohttp) on a local engine with the tiny model — results, progress, token, 429,
dropped streams, stale dispatch ids, cancel, fairness by credits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.engine import Engine, EngineConfig
from engine.errors import InvalidRequestError, JobCancelledError, WorkerLostError
from engine.request import GenerationRequest, Operation, Progress
from engine.scheduler import SpeedMode
from tests.engine.conftest import PROMPT
from tests.gpu_fakes import TOKEN, Faults, FaultyService, serve_gpu


def request(seed: int, **kwargs: object) -> GenerationRequest:
    return GenerationRequest(prompt=PROMPT, seed=seed, **kwargs)  # type: ignore[arg-type]


class Cluster:
    """A GPU service and a bot-side engine pointed at it."""

    def __init__(self, service: FaultyService, bot: Engine) -> None:
        self.service = service
        self.bot = bot


@pytest.fixture
async def gpu_engine(model_cache: Path) -> AsyncIterator[Engine]:
    engine = Engine(EngineConfig(devices=("cpu",), cache_dir=model_cache))
    await engine.start()
    yield engine
    await engine.close()


async def make_cluster(
    gpu_engine: Engine,
    model_cache: Path,
    *,
    slots: int = 1,
    faults: Faults | None = None,
    **bot: object,
) -> AsyncIterator[Cluster]:
    service = FaultyService(
        gpu_engine, TOKEN, slots=slots, faults=faults, progress_interval_s=0, preview_interval_s=0
    )
    async with serve_gpu(service) as url:
        config = EngineConfig(
            devices=("cpu",),
            cache_dir=model_cache,
            gpu_urls=(url,),
            gpu_token=TOKEN,
            **bot,  # type: ignore[arg-type]
        )
        engine = Engine(config)
        await engine.start()
        try:
            yield Cluster(service, engine)
        finally:
            await engine.close()


@pytest.fixture
async def cluster(gpu_engine: Engine, model_cache: Path) -> AsyncIterator[Cluster]:
    async for made in make_cluster(gpu_engine, model_cache):
        yield made


async def test_a_remote_grid_equals_the_local_one_and_streams_progress(
    cluster: Cluster, gpu_engine: Engine
) -> None:
    seen: list[Progress] = []
    remote = await cluster.bot.submit(request(7), on_progress=seen.append).future
    local = await gpu_engine.submit(request(7)).future
    assert remote.seeds == local.seeds == (7, 8, 9, 10)
    assert [image.tobytes() for image in remote.images] == [
        image.tobytes() for image in local.images
    ]
    assert remote.parameters == local.parameters
    steps = [progress.step for progress in seen]
    assert steps == sorted(steps)
    assert steps[-1] == seen[-1].total
    previews = [progress.preview for progress in seen if progress.preview is not None]
    assert previews
    assert max(preview.width for preview in previews) <= 256
    assert list(cluster.service.outcomes.values()) == ["result"]


async def test_inputs_travel_inline_and_arrive_pixel_exact(
    cluster: Cluster, gpu_engine: Engine
) -> None:
    grid = await gpu_engine.submit(request(3)).future
    source = grid.images[1]
    ask = GenerationRequest(
        operation=Operation.VARIATION, prompt=PROMPT, source=source, seeds=(11,), count=1
    )  # type: ignore[arg-type]
    remote = await cluster.bot.submit(ask).future
    local = await gpu_engine.submit(ask).future
    assert remote.images[0].tobytes() == local.images[0].tobytes()


async def test_a_wrong_token_fails_the_job_by_name(gpu_engine: Engine, model_cache: Path) -> None:
    service = FaultyService(gpu_engine, "the-right-token", slots=1)
    async with serve_gpu(service) as url:
        engine = Engine(
            EngineConfig(
                devices=("cpu",),
                cache_dir=model_cache,
                gpu_urls=(url,),
                gpu_token="wrong",  # noqa: S106
            )
        )
        await engine.start()
        try:
            engine.executor.endpoints[0].slots = 1  # type: ignore[attr-defined] - it said 401 at start
            with pytest.raises(Exception, match="MJ_GPU_TOKEN"):
                await asyncio.wait_for(engine.submit(request(1)).future, 30)
        finally:
            await engine.close()
    assert service.started == []


async def test_a_request_the_worker_refuses_fails_with_its_reason(cluster: Cluster) -> None:
    with pytest.raises(InvalidRequestError, match="variation"):
        await cluster.bot.submit(
            GenerationRequest(operation=Operation.VARIATION, prompt=PROMPT)
        ).future  # type: ignore[arg-type]


async def test_a_busy_service_gets_the_job_again_without_spending_an_attempt(
    gpu_engine: Engine, model_cache: Path
) -> None:
    async for made in make_cluster(gpu_engine, model_cache, faults=Faults(busy={1, 2})):
        handle = made.bot.submit(request(5))
        result = await asyncio.wait_for(handle.future, 60)
        assert result.seeds == (5, 6, 7, 8)
        assert made.service.refused == 2
        assert len(made.service.started) == 1  # two 429s, then one run
        assert made.bot._lane_of == {}


async def test_a_cut_stream_is_run_again_and_delivered_once(
    gpu_engine: Engine, model_cache: Path
) -> None:
    async for made in make_cluster(gpu_engine, model_cache, faults=Faults(cut_after={1: 2})):
        results = []
        handle = made.bot.submit(request(9))
        results.append(await asyncio.wait_for(handle.future, 60))
        await asyncio.sleep(0.5)
        first, second = made.service.started
        assert first.dispatch != second.dispatch
        assert first.job == second.job
        assert made.service.outcomes[first.dispatch] == "gone"  # the worker stopped it
        assert made.service.outcomes[second.dispatch] == "result"
        assert made.bot.executor.dispatched == 2  # type: ignore[attr-defined]
        assert results[0].seeds == (9, 10, 11, 12)


async def test_a_worker_lost_every_time_fails_the_job_after_the_attempts(
    gpu_engine: Engine, model_cache: Path
) -> None:
    cuts = Faults(cut_after={1: 1, 2: 1, 3: 1})
    async for made in make_cluster(gpu_engine, model_cache, faults=cuts, gpu_attempts=3):
        with pytest.raises(WorkerLostError, match="lost 3 times"):
            await asyncio.wait_for(made.bot.submit(request(2)).future, 60)
        assert len(made.service.started) == 3


async def test_a_result_for_a_stale_dispatch_is_ignored(
    gpu_engine: Engine, model_cache: Path
) -> None:
    async for made in make_cluster(gpu_engine, model_cache, faults=Faults(stale={1})):
        result = await asyncio.wait_for(made.bot.submit(request(4)).future, 60)
        assert len(made.service.started) == 2  # the stale answer was not taken
        assert result.seeds == (4, 5, 6, 7)


async def test_cancel_closes_the_stream_and_the_worker_stops_within_a_step(
    cluster: Cluster,
) -> None:
    started = asyncio.Event()
    handle = cluster.bot.submit(request(1, steps=400), on_progress=lambda _: started.set())
    await asyncio.wait_for(started.wait(), 30)
    began = time.monotonic()
    handle.cancel()
    with pytest.raises(JobCancelledError):
        await handle.future
    while cluster.service.active and time.monotonic() - began < 10:  # noqa: ASYNC110 - polls the service
        await asyncio.sleep(0.05)
    assert cluster.service.active == 0
    (dispatch,) = cluster.service.outcomes
    assert cluster.service.outcomes[dispatch] == "gone"
    # The worker's engine is free again at once: a new job runs to the end.
    assert (await asyncio.wait_for(cluster.bot.submit(request(2)).future, 60)).seeds == (2, 3, 4, 5)


async def test_credits_keep_the_fair_order_across_users(cluster: Cluster) -> None:
    """One slot: the bot sends a ticket only when the slot is free, so the worker runs them in
    the fair scheduler's order (round-robin), not in arrival order."""
    handles = [
        cluster.bot.submit(
            request(seed), job_id=f"{user}-{seed}", user_id=user, mode=SpeedMode.FAST
        )
        for user, seed in [("ann", 1), ("ann", 2), ("ann", 3), ("bob", 4), ("bob", 5), ("cy", 6)]
    ]
    await asyncio.wait_for(asyncio.gather(*(h.future for h in handles)), 120)
    order = [run.job for run in cluster.service.started]
    assert order == ["ann-1", "bob-4", "cy-6", "ann-2", "bob-5", "ann-3"]
