"""Opening the database at start-up: refuse damaged, locked or unwritable storage, then migrate.

``await open_database(url)`` is the one way the bot opens its database. For SQLite it checks,
in this order, before anything can write to the file:

1. the folder exists (or is created) and files can be written in it;
2. a missing or empty file is a new database (unless a write-ahead log is left beside it);
3. ``PRAGMA quick_check`` on a read-only connection finds no damage — a damaged database is
   refused (:class:`DatabaseCorruptError`) and left exactly as it was: the file and its
   write-ahead log are not written (SQLite may add the empty ``-wal`` and the ``-shm`` index
   beside them, as for any reader; they hold no data);
4. no other process holds the write lock (:class:`DatabaseLockedError`, after a few seconds);
5. the schema is migrated, after an online backup when a migration changes existing data.

Why all of it: damage in pages that start-up does not read (old jobs, images) went unnoticed
and was written over (``tests/db/test_startup.py``), and a refused start could still write
the write-ahead log into the damaged file when the connection closed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from db.backup import backups_of
from db.database import Database, sqlite_path
from db.errors import DatabaseCorruptError, DatabaseLockedError, StorageFaultError
from db.faults import check_writable_folder, database_fault

__all__ = ["LOCK_TIMEOUT_S", "check_sqlite_file", "open_database"]

LOCK_TIMEOUT_S = 3.0
"""How long start-up waits for another process's write lock before saying so."""


async def open_database(
    url: str,
    *,
    backup_dir: Path | None = None,
    lock_timeout: float = LOCK_TIMEOUT_S,
    echo: bool = False,
) -> Database:
    """A checked, migrated :class:`Database`; raises a :class:`~db.errors.StorageError`
    whose ``str()`` tells the admin what is wrong and what to do (print it and exit):
    :class:`~db.errors.StartupError` or :class:`~db.errors.StorageFaultError`."""
    path = sqlite_path(url)
    if path is not None:
        await asyncio.to_thread(check_sqlite_file, path, lock_timeout, backup_dir)
    database = Database(url, echo=echo)
    try:
        await database.migrate(backup_dir=backup_dir)
    except BaseException:
        await database.close()
        raise
    return database


def check_sqlite_file(
    path: Path, lock_timeout: float = LOCK_TIMEOUT_S, backup_dir: Path | None = None
) -> None:
    """Steps 1–4 of the module's list (blocking). Never writes to a damaged database."""
    # 1. The folder: SQLite needs to create the database, its -wal and -shm files there.
    check_writable_folder(path.parent)
    # 2. Nothing there yet: a new database.
    if not path.exists() or path.stat().st_size == 0:
        log_file = path.with_name(path.name + "-wal")
        if log_file.exists() and log_file.stat().st_size > 0:
            problem = f"the file is empty but its write-ahead log {log_file.name} is not"
            raise DatabaseCorruptError(path, [problem], backups_of(path, backup_dir))
        return
    # 3. Damage, read-only: nothing is written (not even a checkpoint) before this passes.
    problems = _quick_check(path, lock_timeout)
    if problems:
        raise DatabaseCorruptError(path, problems, backups_of(path, backup_dir))
    # 4. Another process holding the write lock would make the first write wait, then fail.
    _probe_write_lock(path, lock_timeout)


def _quick_check(path: Path, lock_timeout: float) -> list[str]:
    uri = f"{path.absolute().as_uri()}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=lock_timeout)
        try:
            rows = connection.execute("PRAGMA quick_check").fetchall()
        finally:
            connection.close()
    except sqlite3.OperationalError as error:
        raise _opening_error(path, error, lock_timeout, "it cannot be read") from error
    except sqlite3.DatabaseError as error:  # "malformed", "file is not a database"
        return [str(error)]
    verdicts = [str(row[0]) for row in rows]
    return [] if verdicts == ["ok"] else verdicts


def _probe_write_lock(path: Path, lock_timeout: float) -> None:
    try:
        connection = sqlite3.connect(path, timeout=lock_timeout, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
        finally:
            connection.close()
    except sqlite3.OperationalError as error:
        raise _opening_error(path, error, lock_timeout, "it cannot be opened") from error


def _opening_error(
    path: Path, error: sqlite3.OperationalError, lock_timeout: float, problem: str
) -> Exception:
    """What an OperationalError at start-up means: another process holds the lock, a typed
    storage fault (full, read-only…), or ``problem`` with SQLite's words."""
    if "locked" in str(error):
        return DatabaseLockedError(str(path), lock_timeout)
    return database_fault(str(error), None, path) or StorageFaultError(path, problem, str(error))
