"""Run as a process by test_recovery.py: leave jobs in every state, then die mid-transaction.

Usage: python -m tests.db.crash_worker DATABASE_URL
Prints the ids it created as ``name=id`` lines before it kills itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid

from db import Database, JobKind, JobStatus, NewJob
from db import jobs as repo


async def main(url: str) -> None:
    db = Database(url)
    await db.migrate()
    ids = {name: str(uuid.uuid4()) for name in "ABCDE"}
    for name in "ABCD":
        async with db.session() as session:
            await repo.create_job(session, NewJob(ids[name], 1, JobKind.IMAGINE, prompt=name))
    steps = {
        "A": [JobStatus.RUNNING, JobStatus.DONE],
        "B": [JobStatus.RUNNING],
        "D": [JobStatus.RUNNING, JobStatus.QUEUED] * 2 + [JobStatus.RUNNING],
    }
    for name, path in steps.items():
        for status in path:
            async with db.session() as session:
                await repo.transition(session, ids[name], status)
    for name, job_id in ids.items():
        print(f"{name}={job_id}", flush=True)
    async with db.session() as session:
        await repo.create_job(session, NewJob(ids["E"], 1, JobKind.IMAGINE, prompt="E"))
        await repo.transition(session, ids["C"], JobStatus.RUNNING)
        await session.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # the crash: nothing of this transaction commits


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
