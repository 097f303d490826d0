"""The asyncio Engine: submit, progress on the loop, cancel, failures, queue estimates."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine import operations
from engine.engine import Engine, EngineConfig
from engine.errors import EngineError, GPUOutOfMemoryError, InvalidRequestError, JobCancelledError
from engine.request import GenerationRequest, Operation, Progress
from engine.scheduler import SpeedMode
from tests.engine.conftest import PROMPT


@pytest.fixture
async def engine(model_cache: Path) -> AsyncIterator[Engine]:
    instance = Engine(EngineConfig(devices=("cpu",), cache_dir=model_cache))
    await instance.start()
    yield instance
    await instance.close()


def request(**kwargs: object) -> GenerationRequest:
    return GenerationRequest(prompt=PROMPT, **kwargs)  # type: ignore[arg-type]


async def test_engine_renders_and_reports_progress_on_the_loop(engine: Engine) -> None:
    loop_thread = threading.get_ident()
    seen: list[tuple[int, int]] = []
    previews = 0

    def on_progress(progress: Progress) -> None:
        nonlocal previews
        seen.append((progress.percent, threading.get_ident()))
        previews += progress.preview is not None

    result = await engine.submit(request(seed=3), on_progress=on_progress).future
    assert len(result.images) == 4
    assert result.seeds == (3, 4, 5, 6)
    assert seen[-1][0] == 100
    assert {thread for _, thread in seen} == {loop_thread}
    assert previews == 3


async def test_engine_failing_job_leaves_the_worker_serving(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = engine.submit(GenerationRequest(operation=Operation.VARIATION, prompt=PROMPT))
    with pytest.raises(InvalidRequestError):
        await bad.future
    original = operations.render

    def crash(model: object, req: GenerationRequest, **kwargs: object) -> object:
        if req.seed == 666:
            raise ValueError("boom")
        if req.seed == 667:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(model, req, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("engine.worker.render", crash)
    with pytest.raises(EngineError, match="internal error: ValueError"):
        await engine.submit(request(seed=666)).future
    with pytest.raises(GPUOutOfMemoryError):
        await engine.submit(request(seed=667)).future
    result = await engine.submit(request(seed=1)).future
    assert len(result.images) == 4


async def test_engine_cancel_while_queued_and_while_running(engine: Engine) -> None:
    started = asyncio.Event()

    def on_progress(progress: Progress) -> None:
        if progress.step == 1:
            started.set()

    running = engine.submit(request(seed=1, steps=200), user_id="a", on_progress=on_progress)
    queued = engine.submit(request(seed=2), user_id="b")
    await asyncio.wait_for(started.wait(), 30)
    assert queued.position() == 0
    queued.cancel()
    with pytest.raises(JobCancelledError):
        await queued.future
    running.cancel()
    with pytest.raises(JobCancelledError):
        await asyncio.wait_for(running.future, 30)
    after = await engine.submit(request(seed=3)).future  # still serving
    assert after.steps_run == 8


async def test_engine_serves_fast_before_relax_and_estimates_waits(engine: Engine) -> None:
    started = asyncio.Event()
    order: list[str] = []

    def first_step(progress: Progress) -> None:
        started.set()

    blocker = engine.submit(request(seed=1, steps=40), user_id="x", on_progress=first_step)
    await asyncio.wait_for(started.wait(), 30)
    relax = engine.submit(request(seed=2), user_id="r", mode=SpeedMode.RELAX)
    fast = engine.submit(request(seed=3), user_id="f", mode=SpeedMode.FAST)
    assert fast.position() == 0
    assert relax.position() == 1
    wait_fast, wait_relax = fast.estimated_wait(), relax.estimated_wait()
    assert wait_fast is not None
    assert wait_relax is not None
    assert wait_relax > wait_fast
    for name, handle in (("relax", relax), ("fast", fast)):
        handle.future.add_done_callback(lambda _, n=name: order.append(n))
    await asyncio.gather(blocker.future, relax.future, fast.future)
    assert order == ["fast", "relax"]


async def test_engine_close_cancels_pending_jobs(model_cache: Path) -> None:
    engine = Engine(EngineConfig(devices=("cpu",), cache_dir=model_cache))
    await engine.start()
    handles = [engine.submit(request(seed=i, steps=50)) for i in range(3)]
    await engine.close()
    results = await asyncio.gather(*(h.future for h in handles), return_exceptions=True)
    assert all(isinstance(r, JobCancelledError) for r in results), results


async def test_engine_close_after_failed_start_is_clean(tmp_path: Path) -> None:
    from engine.errors import ModelLoadError

    engine = Engine(
        EngineConfig(
            models={"default": str(tmp_path / "missing")}, devices=("cpu",), cache_dir=tmp_path
        )
    )
    with pytest.raises(ModelLoadError):
        await engine.start()
    await engine.close()
