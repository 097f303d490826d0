"""Run by test_faults.py on a tiny filesystem (a tmpfs mounted in a user namespace).

Usage: python -m tests.db.fault_worker SCENARIO FOLDER
Prints one JSON object: what each storage call raised (class and message) and what was left.
Scenarios: ``full`` (a 256 kB tmpfs), ``read-only`` (a tmpfs mounted read-only) and
``remounted`` (a database made and closed, then its filesystem remounted read-only).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from db import ImageStore, JobKind, NewJob, StorageError, disk_space, open_database
from db import jobs as repo


def outcome(error: BaseException | None) -> dict[str, str] | None:
    if error is None:
        return None
    return {"type": type(error).__name__, "message": str(error)}


async def try_database(folder: Path, jobs: int) -> dict[str, Any]:
    """Open the database in ``folder`` and admit jobs until the disk refuses one."""
    try:
        database = await open_database(f"sqlite+aiosqlite:///{folder / 'mjbot.db'}")
    except StorageError as error:
        return {"open": outcome(error)}
    admitted, failure = 0, None
    try:
        for i in range(jobs):
            async with database.session() as session:
                new = NewJob(f"job-{i:04}", 1, JobKind.IMAGINE, prompt="a long prompt " * 300)
                await repo.create_job(session, new)
            admitted += 1
    except Exception as error:  # the point: which type comes out
        failure = error
    finally:
        await database.close()
    return {"open": None, "admitted": admitted, "write": outcome(failure)}


def try_images(folder: Path) -> dict[str, Any]:
    store = ImageStore(folder)
    result: dict[str, Any] = {}
    try:
        store.check()
        result["check"] = None
    except StorageError as error:
        result["check"] = outcome(error)
    try:
        store.put(bytes(range(256)) * 2000, "png")  # 512 kB: more than the disk holds
        result["put"] = None
    except StorageError as error:
        result["put"] = outcome(error)
    leftovers = [p.name for p in (folder / "images").rglob(".tmp-*")]
    result["leftovers"] = leftovers if (folder / "images").exists() else []
    return result


async def main(scenario: str, folder: Path) -> None:
    report: dict[str, Any] = {"scenario": scenario}
    if scenario == "remounted":  # made and closed (a busy filesystem cannot be remounted)
        report["before"] = await try_database(folder, jobs=1)
        remount = await asyncio.create_subprocess_exec("mount", "-o", "remount,ro", str(folder))
        assert await remount.wait() == 0
    report["database"] = await try_database(folder, jobs=400)
    report["images"] = try_images(folder)
    space = disk_space(folder, threshold=1_000_000)
    report["space"] = {"free": space.free, "low": space.low, "text": space.describe()}
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
