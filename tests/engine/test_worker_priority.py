"""The worker thread gives way to the event loop: a lower scheduling priority (Linux), and a
loaded model's objects kept out of the garbage collector's full collections."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

from engine.engine import Engine, EngineConfig
from engine.request import GenerationRequest
from engine.worker import WORKER_NICENESS
from tests.engine.conftest import PROMPT


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are Linux's")
async def test_the_worker_runs_below_the_event_loop_and_freezes_what_it_loads(
    model_cache: Path,
) -> None:
    gc.unfreeze()
    engine = Engine(EngineConfig(devices=("cpu",), cache_dir=model_cache))
    await engine.start()
    try:
        await engine.submit(GenerationRequest(prompt=PROMPT, steps=1, count=1)).future
        worker_thread = engine.workers[0]._thread.native_id
        assert worker_thread is not None
        loop_nice = os.getpriority(os.PRIO_PROCESS, 0)  # 0: this (the loop's) thread
        worker_nice = os.getpriority(os.PRIO_PROCESS, worker_thread)
        assert worker_nice == min(19, loop_nice + WORKER_NICENESS)
        assert os.getpriority(os.PRIO_PROCESS, 0) == loop_nice  # the loop keeps its own
        # The model and what it imported are out of the collector's reach.
        assert gc.get_freeze_count() > 10_000
    finally:
        await engine.close()
        gc.unfreeze()
