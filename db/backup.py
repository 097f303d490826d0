"""Copies of a SQLite database made with SQLite's online backup API, and finding them."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

from db.errors import StorageFaultError
from db.faults import database_fault, os_fault

__all__ = ["backup_sqlite", "backups_of"]


def backup_sqlite(source: Path, folder: Path, label: str) -> Path:
    """Copy ``source`` to ``folder/<stem>-<UTC time>-<label>.db`` and return the copy's path.

    The online backup API copies a consistent snapshot page by page, including what is still
    in the write-ahead log, while others may read. The copy is written under a temporary name,
    checked with ``PRAGMA quick_check``, flushed, then renamed: a backup that exists is whole.
    Blocking: call in a thread. Raises :class:`~db.errors.StorageFaultError` (disk full…).
    """
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"{source.stem}-{stamp}-{label}.db"
    partial = target.with_name(f".{target.name}.partial")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        reader = sqlite3.connect(f"{source.absolute().as_uri()}?mode=ro", uri=True)
        writer = sqlite3.connect(partial)
        try:
            reader.backup(writer)
            (verdict,) = writer.execute("PRAGMA quick_check").fetchone()
        finally:
            writer.close()
            reader.close()
        if verdict != "ok":
            raise StorageFaultError(partial, "the backup copy did not verify", str(verdict))
        _fsync(partial)
        os.replace(partial, target)
        _fsync(folder)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise os_fault(error, folder) from error
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        fault = database_fault(str(error), None, partial)
        raise fault or StorageFaultError(target, "the backup failed", str(error)) from error
    return target


def backups_of(database: Path, folder: Path | None = None) -> list[Path]:
    """Backups of ``database`` in ``folder`` (default ``backups/`` beside it), newest first."""
    where = folder or database.parent / "backups"
    if not where.is_dir():
        return []
    found = where.glob(f"{database.stem}-*.db")
    return sorted(found, key=lambda path: path.name, reverse=True)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
