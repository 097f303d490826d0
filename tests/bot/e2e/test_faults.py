"""Faults a careless admin or a hostile user can cause: a full or read-only disk, prompts at
Discord's length limits. Jobs fail visibly, free their slot, and every message fits."""

from __future__ import annotations

import asyncio
import errno
import logging
import sqlite3
import threading
import time

import pytest
from sqlalchemy import select

from bot.jobs import flights
from db.models import Job, JobStatus
from playground import Emulator
from tests.bot.e2e.conftest import BotHarness, imagine, wait_result


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, "the server's disk is full; try again later"),
        (errno.EROFS, "the server cannot write its files"),
    ],
)
@pytest.mark.bot_settings(mj_max_active_jobs=1)
async def test_a_storage_fault_fails_the_job_visibly_and_frees_the_slot(
    emu: Emulator,
    harness: BotHarness,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    code: int,
    reason: str,
) -> None:
    assert harness.bot is not None
    deps = harness.bot.deps
    monkeypatch.setattr(flights, "STORAGE_BACKOFF_S", 0.01)

    def broken(data: bytes, extension: str) -> object:
        raise OSError(code, "injected storage fault")

    with monkeypatch.context() as patch:
        patch.setattr(deps.store, "put", broken)
        caplog.set_level(logging.ERROR, logger="bot.jobs.flights")
        await imagine(emu, "a lighthouse in fog --seed 2")
        failed = await emu.wait_for(
            lambda: [
                m for m in emu.messages() if "(Failed: could not save the result" in m.content
            ],
            60,
            what="the job to fail visibly",
        )
    assert reason in failed[0].content
    assert not failed[0].components  # ❌ is gone: the job has ended
    lines = [r for r in caplog.records if "could not save its result" in r.getMessage()]
    assert len(lines) == flights.STORAGE_RETRIES  # one line per attempt, no traceback
    assert all(r.exc_info is None for r in lines)
    async with deps.db.read() as session:
        [job] = (await session.execute(select(Job))).scalars().all()
    assert job.status is JobStatus.FAILED
    # The slot (max 1 active job) is free again: the next job runs and is delivered.
    await imagine(emu, "a lighthouse in sun --seed 3")
    await wait_result(emu, r"a lighthouse in sun --seed 3\*\* - <@\d+> \(fast\)$")


async def test_prompts_at_the_length_limit_are_delivered_within_discords_limits(
    emu: Emulator, harness: BotHarness
) -> None:
    words = " ".join(f"word{i}" for i in range(1200))
    prompt = (words[:5990].rsplit(" ", 1)[0]) + " --seed 5"
    assert 5900 < len(prompt) <= 6000
    await imagine(emu, prompt)
    result = await wait_result(emu, r"…\*\* - <@\d+> \(fast\)$", timeout=120)
    assert len(result.content) <= 2000
    assert result.content.startswith("**word0 word1")
    for message in emu.messages(include_deleted=True):
        assert len(message.content) <= 2000
        assert all(len(r.get("content") or "") <= 2000 for r in message.revisions)
    value = "--ar 16:9 --no " + ", ".join(f"thing{i}" for i in range(400))
    answer = await emu.response_of(
        await emu.slash(
            "prefer", emu.alice, subcommand="option set", options={"option": "big", "value": value}
        )
    )
    assert answer["type"] == 4
    assert len(answer["data"]["content"]) <= 2000


@pytest.mark.sqlite_only("another process holding SQLite's write lock on the file")
async def test_a_locked_database_does_not_delay_the_acknowledgement(
    emu: Emulator, harness: BotHarness
) -> None:
    """Another process holds SQLite's write lock for 6 s: /imagine is acknowledged within
    Discord's 3 s all the same, and the job is recorded and delivered once the lock is gone."""
    await imagine(emu, "a warm-up --seed 1")  # the user and the engine exist already
    await wait_result(emu, r"a warm-up --seed 1\*\* - <@\d+> \(fast\)$")
    locked = threading.Event()

    def hold_the_write_lock() -> None:
        with sqlite3.connect(harness.data_dir / "mjbot.db", timeout=30) as other:
            other.execute("BEGIN IMMEDIATE")
            locked.set()
            time.sleep(6)
            other.rollback()

    holder = asyncio.get_running_loop().run_in_executor(None, hold_the_write_lock)
    await asyncio.to_thread(locked.wait, 10)
    started = time.monotonic()
    record = await imagine(emu, "a locked door --seed 2")
    await emu.wait_for(lambda: record.acknowledged, 5, what="the acknowledgement")
    assert time.monotonic() - started < 3.0
    await holder
    await wait_result(emu, r"a locked door --seed 2\*\* - <@\d+> \(fast\)$", timeout=120)


@pytest.mark.bot_settings(mj_min_free_disk_mb=10**9)  # a petabyte: this disk is "low"
async def test_info_says_when_the_servers_disk_is_low(emu: Emulator, harness: BotHarness) -> None:
    record = await emu.slash("info", emu.alice)
    answer = await emu.response_of(record, timeout=30)
    assert answer["type"] == 5
    message = await emu.wait_for(
        lambda: record.original_message if record.original_message.embeds else None,
        30,
        what="the /info answer",
    )
    description = message.embeds[0]["description"]
    assert "**Server Disk**: low, " in description
    assert "below the" in description
