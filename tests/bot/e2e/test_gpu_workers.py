"""The bot with its GPU on another machine (tier 1): real discord.py against the local
Discord, rendering through protocol v1 on the real GPU service (aiohttp, a local engine with
the tiny model) — delivery, progress, ❌, and a bot restart mid-job delivered exactly once."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from db import JobStatus
from engine.engine import Engine, EngineConfig
from engine.request import Operation
from playground import Emulator
from tests.bot.e2e.conftest import BotDatabase, BotHarness, custom_id, imagine, results, wait_result
from tests.bot.e2e.test_controls import (
    delivered,
    job_id_of,
    stopped,
    wait_status,
    waiting_message,
)
from tests.bot.e2e.test_portrait_flow import FAST, PORTRAITS, TRAINED, portrait
from tests.gpu_fakes import TOKEN, FaultyService, serve_gpu

LONG = 2000
"""The GPU side's steps for a job that must stay in flight (minutes on the tiny model)."""
RESTARTABLE = 150
"""Steps of a job that outlasts a restart of the bot yet finishes soon after (seconds)."""


class Remote:
    def __init__(self, service: FaultyService, harness: BotHarness) -> None:
        self.service = service
        self.harness = harness


async def remote_bot(
    emu: Emulator,
    database: BotDatabase,
    tmp_path: Path,
    shared_models: Path,
    *,
    steps: int | None,
    **settings: object,
) -> AsyncIterator[Remote]:
    """A bot whose GPU is the service (its engine renders ``steps`` per job; its portraits
    folder is its own, as on another machine)."""
    gpu = Engine(
        EngineConfig(
            devices=("cpu",),
            cache_dir=shared_models,
            steps=steps,
            portrait_dir=tmp_path / "gpu-portraits",
        )
    )
    await gpu.start()
    service = FaultyService(gpu, TOKEN, slots=1, progress_interval_s=0.2)
    async with serve_gpu(service) as url:  # stops the GPU engine when it ends
        harness = BotHarness(
            emu,
            database,
            tmp_path / "data",
            shared_models,
            mj_gpu_url=url,
            mj_gpu_token=TOKEN,
            **settings,
        )
        await harness.start()
        try:
            yield Remote(service, harness)
        finally:
            await harness.stop()


@pytest.fixture
async def remote(
    emu: Emulator, database: BotDatabase, tmp_path: Path, shared_models: Path
) -> AsyncIterator[Remote]:
    async for made in remote_bot(emu, database, tmp_path, shared_models, steps=None):
        yield made


@pytest.fixture
async def slow_remote(
    emu: Emulator,
    database: BotDatabase,
    tmp_path: Path,
    shared_models: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Remote]:
    """A slow GPU (``LONG`` steps a job, or the parameter's)."""
    steps = getattr(request, "param", LONG)
    async for made in remote_bot(emu, database, tmp_path, shared_models, steps=steps):
        yield made


async def test_imagine_renders_on_the_gpu_worker_and_is_delivered(
    emu: Emulator, remote: Remote
) -> None:
    await imagine(emu, "a lighthouse --seed 12")
    result = await wait_result(emu, r"a lighthouse --seed 12\*\* - <@\d+> \(fast\)$")
    assert result.attachments
    assert custom_id(result, "U1")
    (run,) = remote.service.started
    assert run.request.resolved_seeds() == (12, 13, 14, 15)
    assert remote.service.outcomes[run.dispatch] == "result"
    assert remote.harness.bot is not None
    assert remote.harness.bot.deps.engine.registries[0]._loaded == {}  # nothing rendered here


async def test_cancel_closes_the_remote_run(emu: Emulator, slow_remote: Remote) -> None:
    harness = slow_remote.harness
    await imagine(emu, "a slow tide")
    waiting = await waiting_message(emu, harness, "a slow tide")
    await emu.wait_for(lambda: "%)" in emu.message(waiting.id).content, 30, what="progress")
    pressed = time.monotonic()
    await emu.click(waiting.id, custom_id(waiting, "❌"), emu.alice)
    await wait_status(emu, harness, job_id_of(waiting), JobStatus.CANCELLED)
    final = await stopped(emu, waiting)
    assert re.fullmatch(rf"\*\*a slow tide\*\* - <@{emu.alice.id}> \(Stopped\)", final.content)
    await emu.wait_for(lambda: slow_remote.service.active == 0, 10, what="the worker to stop")
    assert time.monotonic() - pressed < 10  # a 2000-step job would take minutes
    assert list(slow_remote.service.outcomes.values()) == ["gone"]


@pytest.mark.parametrize("slow_remote", [RESTARTABLE], indirect=True)
async def test_a_bot_restart_mid_job_runs_it_again_and_delivers_it_once(
    emu: Emulator, slow_remote: Remote
) -> None:
    harness = slow_remote.harness
    await imagine(emu, "a long voyage --seed 3")
    waiting = await waiting_message(emu, harness, "a long voyage")
    await emu.wait_for(lambda: "%)" in emu.message(waiting.id).content, 30, what="progress")
    # Its first start is on record (attempt 1) before the restart interrupts it.
    await wait_status(emu, harness, job_id_of(waiting), JobStatus.RUNNING)
    await harness.restart()
    await emu.wait_for(lambda: len(slow_remote.service.started) == 2, 30, what="a second run")
    first, second = slow_remote.service.started
    assert slow_remote.service.outcomes[first.dispatch] == "gone"  # orphaned work stopped
    assert first.job == second.job == job_id_of(waiting)
    result = await wait_result(emu, r"a long voyage --seed 3\*\* - <@\d+> \(fast\)$", timeout=240)
    assert len(results(emu, r"a long voyage --seed 3\*\*")) == 1
    recorded = await delivered(emu, harness, result)
    assert recorded.id == first.job
    assert recorded.status is JobStatus.DONE
    assert recorded.attempts == 2


@pytest.fixture
async def portrait_remote(
    emu: Emulator, database: BotDatabase, tmp_path: Path, shared_models: Path
) -> AsyncIterator[Remote]:
    async for made in remote_bot(emu, database, tmp_path, shared_models, steps=None, **FAST):
        yield made


async def test_portraits_train_render_and_vary_on_the_gpu_worker(
    emu: Emulator,
    portrait_remote: Remote,
    photos: dict[str, tuple[str, bytes, str]],
    tmp_path: Path,
) -> None:
    """The face is learned on the GPU worker and its folder comes back to the bot; the
    portraits job and a variation of its grid take the face's files along; the worker keeps
    nobody's face once a job ends."""
    await portrait(emu, "train", photos, name="me")
    await wait_result(emu, TRAINED)
    mine = portrait_remote.harness.data_dir / "portraits" / str(emu.alice.id) / "me"
    files = {p.name: p.read_bytes() for p in mine.iterdir()}
    assert sorted(files) == ["best.png", "lora.safetensors", "portrait.json"]
    worker = tmp_path / "gpu-portraits"
    assert list(worker.iterdir()) == []  # trained there, sent back, deleted

    await portrait(emu, "imagine", prompt="in a garden --seed 40", style="studio")
    grid = await wait_result(emu, PORTRAITS)
    await emu.click(grid.id, custom_id(grid, "V1"), emu.alice)
    await wait_result(emu, r"Variations \(Strong\) by <@\d+> \(fast\)$")

    runs = portrait_remote.service.started
    assert [run.request.operation for run in runs] == [
        Operation.FACE_TRAINING,
        Operation.PORTRAIT,
        Operation.VARIATION,
    ]
    assert [portrait_remote.service.outcomes[run.dispatch] for run in runs] == ["result"] * 3
    face = f"{emu.alice.id}/me"
    assert runs[0].portraits == {}  # the photos travel, no folder
    assert runs[1].portraits == runs[2].portraits == {face: files}
    assert f"portrait:{face}" in [use.name for use in runs[2].request.loras]
    assert list(worker.iterdir()) == []
    assert portrait_remote.harness.bot is not None
    engine = portrait_remote.harness.bot.deps.engine
    assert engine.registries[0]._loaded == {}  # nothing rendered or trained on the bot
