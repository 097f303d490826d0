"""Portrait rows: saved once per user and name (retraining replaces), listed by name, and
forgetting one deletes its row and its training jobs, returning exactly the files no other
job uses. A database from before portraits migrates with its jobs intact."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from db import Database, JobKind, NewImage, NewJob
from db import jobs as repo
from db import portraits as portraits_db
from db.database import MIGRATIONS
from tests.db.conftest import sqlite_url

SHA = {name: name[0] * 64 for name in ("photo", "crop", "shared", "other")}


def training(job_id: str, user: int, name: str, photos: list[str]) -> NewJob:
    spec = {
        "operation": "face_training",
        "training": {
            "owner": user,
            "name": name,
            "photos": [{"path": f"images/{p}.png", "sha256": SHA[p]} for p in photos],
            "steps": None,
        },
        "seeds": [1],
    }
    return NewJob(job_id, user, JobKind.TRAINING, parameters={"spec": spec})


def crop(path: str) -> NewImage:
    name = Path(path).stem
    return NewImage(0, 128, 128, path, SHA[name], "png", 1)


async def test_save_list_replace_and_forget(database: Database) -> None:
    async with database.session() as session:
        await repo.create_job(session, training("t1", 7, "me", ["photo", "shared"]))
        await repo.attach_images(session, "t1", [crop("images/crop.png")])
        await repo.create_job(session, training("t2", 7, "work", ["other"]))
        # another job of another user uses the shared photo as a reference
        refs = {"spec": {"references": [{"path": "images/shared.png", "sha256": SHA["shared"]}]}}
        await repo.create_job(session, NewJob("j3", 8, JobKind.IMAGINE, parameters=refs))
        new = portraits_db.NewPortrait(7, "me", "sks1a2b", "builtin:tiny", 30, ["a", "b"], "t1")
        await portraits_db.save_portrait(session, new)
        await portraits_db.save_portrait(
            session, portraits_db.NewPortrait(7, "work", "sks9f9f", "builtin:tiny", 60, ["c"])
        )
    async with database.session() as session:  # retraining "me" replaces its row
        again = portraits_db.NewPortrait(7, "me", "sks1a2b", "builtin:tiny", 90, ["a", "b", "d"])
        await portraits_db.save_portrait(session, again)
    async with database.read() as session:
        rows = await portraits_db.list_portraits(session, 7)
        assert [(r.name, r.steps, len(r.photos)) for r in rows] == [("me", 90, 3), ("work", 60, 1)]
        assert await portraits_db.list_portraits(session, 8) == []

    async with database.session() as session:
        forgotten = await portraits_db.forget_portrait(session, 7, "me")
    assert forgotten.found
    assert forgotten.jobs == 1
    # the photo and the crop go; the shared photo stays (job j3 still names it)
    assert sorted(forgotten.files) == [
        ("images/crop.png", SHA["crop"]),
        ("images/photo.png", SHA["photo"]),
    ]
    async with database.read() as session:
        assert [r.name for r in await portraits_db.list_portraits(session, 7)] == ["work"]
        remaining = {job.id for job in await repo.history(session, 7)}
        assert remaining == {"t2"}
        assert await portraits_db.get_portrait(session, 7, "me") is None
    async with database.session() as session:
        nothing = await portraits_db.forget_portrait(session, 7, "me")
    assert (nothing.found, nothing.jobs, nothing.files) == (False, 0, ())


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows: list[Any] = connection.execute("SELECT name FROM sqlite_master").fetchall()
    connection.close()
    return {name for (name,) in rows}


async def test_a_database_from_before_portraits_migrates_with_its_jobs(tmp_path: Path) -> None:
    first = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, first, ignore=shutil.ignore_patterns("__pycache__", "0002_*"))
    path = tmp_path / "mjbot.db"
    old = Database(sqlite_url(path), migrations=first)
    await old.migrate()
    async with old.session() as session:
        await repo.create_job(session, NewJob("old", 1, JobKind.IMAGINE, prompt="a cat"))
    await old.close()
    assert "portraits" not in _tables(path)

    new = Database(sqlite_url(path))
    await new.migrate()
    async with new.session() as session:
        assert (await repo.get_job(session, "old")).prompt == "a cat"
        await portraits_db.save_portrait(
            session, portraits_db.NewPortrait(1, "me", "sks0000", "builtin:tiny", 10, ["x"])
        )
    async with new.read() as session:
        assert [r.name for r in await portraits_db.list_portraits(session, 1)] == ["me"]
    await new.close()
    assert "portraits" in _tables(path)
