"""This process's SQLite writers take turns: urgent ones (a command's admission) first, then
in arrival order, handed over without SQLite's polling sleeps."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from db import Database
from db.database import WriteGate


async def _holder(gate: WriteGate, name: str, order: list[str], hold: asyncio.Event) -> None:
    assert await gate.acquire(False, 5)
    order.append(name)
    await hold.wait()
    gate.release()


async def _writer(gate: WriteGate, name: str, urgent: bool, order: list[str]) -> None:
    assert await gate.acquire(urgent, 5)
    order.append(name)
    await asyncio.sleep(0)
    gate.release()


async def test_urgent_writers_go_first_then_arrival_order() -> None:
    gate = WriteGate()
    order: list[str] = []
    hold = asyncio.Event()
    holder = asyncio.create_task(_holder(gate, "holder", order, hold))
    await asyncio.sleep(0)
    names = [("progress 1", False), ("progress 2", False), ("admission 1", True)]
    names += [("progress 3", False), ("admission 2", True)]
    tasks = []
    for name, urgent in names:
        tasks.append(asyncio.create_task(_writer(gate, name, urgent, order)))
        await asyncio.sleep(0)  # arrive in this order
    hold.set()
    await asyncio.gather(holder, *tasks)
    assert order == [
        "holder",
        "admission 1",
        "admission 2",
        "progress 1",
        "progress 2",
        "progress 3",
    ]


async def test_a_timed_out_or_cancelled_waiter_never_takes_or_blocks_the_turn() -> None:
    gate = WriteGate()
    assert await gate.acquire(False, 1)
    assert not await gate.acquire(False, 0.05)  # timed out: False, and gone from the line
    waiting = asyncio.create_task(gate.acquire(True, 5))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    gate.release()  # nobody left in line: the gate is free again
    assert await asyncio.wait_for(gate.acquire(False, 1), 0.5)
    gate.release()


async def test_a_unit_of_work_inside_another_still_fails_as_locked_and_does_not_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from db import database

    monkeypatch.setattr(database, "WRITE_GATE_TIMEOUT_S", 0.1)
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 200)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'mjbot.db'}")
    await db.migrate()
    try:
        async with db.session() as outer:
            await outer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: SQLite's write lock held
            # The inner one waits its turn briefly, then meets SQLite's own lock, as before.
            inner = asyncio.create_task(_inner(db))
            done, _ = await asyncio.wait({inner}, timeout=5)
            assert done, "a unit of work inside another hung"
            assert "locked" in str(inner.exception())
    finally:
        await db.close()


async def _inner(db: Database) -> None:
    from sqlalchemy import text

    async with db.session() as session:
        await session.execute(text("SELECT 1"))


async def test_many_concurrent_writers_all_commit(tmp_path: Path) -> None:
    from sqlalchemy import text

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'mjbot.db'}")
    await db.migrate()
    try:
        async with db.session() as session:
            await session.execute(text("CREATE TABLE counter (n INTEGER)"))
            await session.execute(text("INSERT INTO counter VALUES (0)"))

        async def bump(urgent: bool) -> None:
            async with db.session(urgent=urgent) as session:
                await session.execute(text("UPDATE counter SET n = n + 1"))

        await asyncio.gather(*(bump(i % 3 == 0) for i in range(60)))
        async with db.read() as session:
            assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 60
    finally:
        await db.close()


async def test_close_lets_a_unit_of_work_in_flight_finish(tmp_path: Path) -> None:
    from sqlalchemy import text

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'mjbot.db'}")
    await db.migrate()
    async with db.session() as session:
        await session.execute(text("CREATE TABLE marks (n INTEGER)"))
    entered = asyncio.Event()

    async def slow_write() -> None:
        async with db.session() as session:
            await session.execute(text("INSERT INTO marks VALUES (1)"))
            entered.set()
            await asyncio.sleep(0.3)

    writer = asyncio.create_task(slow_write())
    await entered.wait()
    await db.close()
    assert writer.done()  # committed before the close
    assert writer.exception() is None
    reopened = Database(f"sqlite+aiosqlite:///{tmp_path / 'mjbot.db'}")
    try:
        async with reopened.read() as session:
            assert (await session.execute(text("SELECT count(*) FROM marks"))).scalar_one() == 1
    finally:
        await reopened.close()
