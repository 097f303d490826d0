"""Storage faults come out typed, naming the path and the cause (issue 13, items 3 and 13).

Real faults where a test can make them without root: a tiny tmpfs in a user namespace (full,
read-only), SQLite's own "database or disk is full" (``max_page_count``) and the file-size
limit (``RLIMIT_FSIZE``); injected ``OSError``s for the rest (permission denied as root).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from db import (
    Database,
    DiskFullError,
    ImageStore,
    Job,
    JobKind,
    NewJob,
    NotWritableError,
    StorageFaultError,
    disk_space,
    open_database,
)
from db import jobs as repo
from db.faults import database_fault
from tests.db.conftest import sqlite_url

ROOT = Path(__file__).resolve().parents[2]
FULL = "the server's disk is full"


def tiny_filesystem(scenario: str, folder: Path, options: str) -> dict[str, Any]:
    """Run tests/db/fault_worker.py with ``folder`` a 256 kB tmpfs of its own."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) to mount a tiny filesystem")
    folder.mkdir()
    mount = f'mount -t tmpfs -o size=256k,{options} tmpfs "$1"'
    script = f'{mount} && exec "$2" -m tests.db.fault_worker "$3" "$1"'
    namespace = ["unshare", "--user", "--map-root-user", "--mount"]
    result = subprocess.run(
        [*namespace, "sh", "-c", script, "sh", str(folder), sys.executable, scenario],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0 and "fault_worker" not in result.stderr:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return report


def test_faults_full_filesystem_fails_writes_as_disk_full(tmp_path: Path) -> None:
    report = tiny_filesystem("full", tmp_path / "data", "rw")
    database = report["database"]
    assert database["open"] is None
    assert database["admitted"] >= 1  # jobs went in until the disk was full…
    assert database["write"]["type"] == "DiskFullError"  # …then a typed error, not a hang
    assert f"{tmp_path / 'data' / 'mjbot.db'}: {FULL}" in database["write"]["message"]
    images = report["images"]
    assert images["put"]["type"] == "DiskFullError"
    assert FULL in images["put"]["message"]
    assert images["leftovers"] == []  # no half-written temporary file stays behind
    assert report["space"]["low"]


@pytest.mark.parametrize("scenario", ["read-only", "remounted"])
def test_faults_read_only_filesystem_is_named_at_start(tmp_path: Path, scenario: str) -> None:
    folder = tmp_path / "data"
    report = tiny_filesystem(scenario, folder, "ro" if scenario == "read-only" else "rw")
    opened = report["database"]["open"]
    # before: "unable to open database file", with no path and no cause
    assert opened == {
        "type": "NotWritableError",
        "message": f"cannot write {folder}: the filesystem is read-only (Read-only file system)",
    }
    assert report["images"]["check"]["type"] == "NotWritableError"
    assert report["images"]["put"]["type"] == "NotWritableError"
    assert report["images"]["leftovers"] == []


def test_faults_image_store_disk_full_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ImageStore(tmp_path)

    def no_space(descriptor: int) -> None:  # many filesystems report ENOSPC at fsync
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("db.storage.os.fsync", no_space)
    with pytest.raises(DiskFullError) as caught:
        store.put(b"result grid", "png")
    assert caught.value.reason == FULL
    assert caught.value.path.startswith(str(tmp_path / "images"))
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.EROFS, "the filesystem is read-only"),
        (errno.EACCES, "permission denied"),
        (errno.EDQUOT, FULL),
    ],
)
def test_faults_image_store_refusals_are_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, reason: str
) -> None:
    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code), str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(StorageFaultError) as caught:
        ImageStore(tmp_path).put(b"x", "png")
    assert type(caught.value) is (DiskFullError if reason == FULL else NotWritableError)
    assert caught.value.reason.startswith(reason)


def test_faults_file_size_limit_is_a_storage_fault(tmp_path: Path) -> None:
    code = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from db import ImageStore, StorageFaultError\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        "    ImageStore(Path(sys.argv[1])).put(bytes(20_000), 'png')\n"
        "except StorageFaultError as error:\n"
        "    print(type(error).__name__, '|', error.reason)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.strip() == "StorageFaultError | the file is larger than the system allows"
    assert list(tmp_path.rglob(".tmp-*")) == []


async def test_faults_database_full_is_disk_full_and_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "mjbot.db"
    db = Database(sqlite_url(path))
    await db.migrate()

    @event.listens_for(db.engine.sync_engine, "connect")
    def small_disk(connection: Any, record: Any) -> None:
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages + 8}")  # SQLite's own full disk

    await db.engine.dispose()  # reconnect with the limit
    admitted: list[str] = []

    async def admit_until_full() -> None:
        for i in range(200):
            async with db.session() as session:
                new = NewJob(f"job-{i}", 1, JobKind.IMAGINE, prompt="a prompt " * 300)
                await repo.create_job(session, new)
            admitted.append(new.id)

    with pytest.raises(DiskFullError) as caught:
        await admit_until_full()
    assert caught.value.path == str(path)
    assert caught.value.reason == FULL
    async with db.session() as session:  # still readable; the refused job is not there
        count = await session.scalar(select(func.count()).select_from(Job))
    await db.close()
    assert count == len(admitted) > 0


@pytest.mark.parametrize(
    ("message", "sqlstate", "expected"),
    [
        ("could not extend file: No space left on device", "53100", DiskFullError),
        ("cannot execute INSERT in a read-only transaction", "25006", NotWritableError),
        ("database or disk is full", None, DiskFullError),
        ("attempt to write a readonly database", None, NotWritableError),
        ("UNIQUE constraint failed: jobs.id", None, type(None)),
        ('duplicate key value violates unique constraint "jobs_pkey"', "23505", type(None)),
    ],
)
def test_faults_database_errors_map_to_faults_or_pass_through(
    message: str, sqlstate: str | None, expected: type
) -> None:
    assert type(database_fault(message, sqlstate, "mjbot.db")) is expected


async def test_faults_unwritable_data_folder_is_named_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "data"
    real_open = Path.open

    def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name.startswith(".mjbot-write-check"):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)  # root ignores mode bits: inject the refusal
    with pytest.raises(NotWritableError) as caught:
        await open_database(sqlite_url(folder / "mjbot.db"))
    assert str(caught.value).startswith(f"cannot write {folder}: permission denied (mjbot runs as")
    assert not (folder / "mjbot.db").exists()


async def test_faults_data_folder_that_is_a_file_is_named_at_start(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(NotWritableError, match="a file is in the way of a folder"):
        await open_database(sqlite_url(tmp_path / "data" / "mjbot.db"))


def test_faults_disk_space_probe_compares_with_the_threshold(tmp_path: Path) -> None:
    usage = shutil.disk_usage(tmp_path)
    roomy = disk_space(tmp_path / "not" / "made" / "yet", threshold=1)
    assert roomy.total == usage.total
    assert abs(roomy.free - usage.free) < 64 * 1024 * 1024  # others write meanwhile
    assert not roomy.low
    assert "below" not in roomy.describe()
    tight = disk_space(tmp_path, threshold=usage.free * 2 + 1)
    assert tight.low
    assert "below the" in tight.describe()


async def test_faults_read_only_database_is_not_writable_on_both_backends(
    database: Database,
) -> None:
    # the database itself refuses the write: SQLite's query_only, PostgreSQL's read-only
    # transaction (SQLSTATE 25006, as on a hot standby)
    refuse = "PRAGMA query_only = ON" if database.is_sqlite else "SET TRANSACTION READ ONLY"

    async def write_refused() -> None:
        async with database.session() as session:
            await session.execute(text(refuse))
            await repo.create_job(session, NewJob("refused", 1, JobKind.IMAGINE))

    with pytest.raises(NotWritableError) as caught:
        await write_refused()
    assert caught.value.reason == "the database is read-only"
    assert caught.value.path == database.where
    await database.engine.dispose()  # no pooled connection stays read-only
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Job)) == 0
