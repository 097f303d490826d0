"""Storage faults: OS and database errors → typed :class:`StorageFaultError`s; free space.

The bot turns a :class:`DiskFullError` into "could not save the result — the server's disk is
full; try again later" and a :class:`NotWritableError` into a message for the admin, so each
error here names the path and the cause in words (never just "unable to open database file").
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from db.errors import DiskFullError, NotWritableError, StorageFaultError

__all__ = [
    "DiskSpace",
    "check_writable_folder",
    "database_fault",
    "disk_space",
    "os_fault",
    "why_not_writable",
]

DISK_FULL = "the server's disk is full"
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_DENIED_ERRNOS = {errno.EACCES, errno.EPERM}


def os_fault(error: OSError, path: Path | str, action: str = "write") -> StorageFaultError:
    """The typed fault for an ``OSError`` met while writing (or reading) ``path``."""
    detail = error.strerror or str(error)
    if action != "write":  # nothing to free or fix by writing elsewhere: the plain fault
        return StorageFaultError(path, detail, action=action)
    if error.errno in _FULL_ERRNOS:
        return DiskFullError(path, DISK_FULL, detail)
    if error.errno == errno.EROFS:
        return NotWritableError(path, "the filesystem is read-only", detail)
    if error.errno in _DENIED_ERRNOS:
        return NotWritableError(path, f"permission denied ({_who()})", detail)
    if error.errno in (errno.ENOTDIR, errno.EEXIST):
        return NotWritableError(path, "a file is in the way of a folder", detail)
    if error.errno == errno.EFBIG:
        reason = "the file is larger than the system allows"
        return StorageFaultError(path, reason, detail)
    return StorageFaultError(path, "the disk failed to write", detail)


def database_fault(
    message: str, sqlstate: str | None, path: Path | str
) -> StorageFaultError | None:
    """The typed fault for a database error (SQLite's message, or PostgreSQL's SQLSTATE), or
    ``None`` when it is not a storage fault (a constraint, a bug) and must propagate as is."""
    text = message.lower()
    if sqlstate == "53100" or "database or disk is full" in text:
        return DiskFullError(path, DISK_FULL, message)
    if sqlstate == "25006" or "attempt to write a readonly database" in text:
        return NotWritableError(path, "the database is read-only", message)
    if "unable to open database file" in text or "disk i/o error" in text:
        folder = Path(path).parent
        fault = why_not_writable(folder)
        if fault is not None:
            return type(fault)(path, fault.reason, message)
        if disk_space(folder, 1).free == 0:
            return DiskFullError(path, DISK_FULL, message)
        return StorageFaultError(path, "the disk failed to read or write", message)
    return None


def why_not_writable(folder: Path) -> StorageFaultError | None:
    """Why files cannot be created in ``folder`` (a fault naming it), or ``None`` when they can.

    Checked the way the bot will use it: a file is created, written, and removed.
    """
    probe = folder / f".mjbot-write-check-{os.getpid()}"
    try:
        with probe.open("wb") as file:
            file.write(b"x")
        probe.unlink()
    except FileNotFoundError:
        return NotWritableError(folder, "the folder does not exist")
    except OSError as error:
        with contextlib.suppress(OSError):  # a read-only filesystem refuses even this
            probe.unlink(missing_ok=True)
        return os_fault(error, folder)
    return None


def check_writable_folder(folder: Path) -> None:
    """Create ``folder`` if needed and check files can be written in it; raises
    :class:`StorageFaultError` naming the folder and the cause."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise os_fault(error, folder) from error
    fault = why_not_writable(folder)
    if fault is not None:
        raise fault


@dataclass(frozen=True, slots=True)
class DiskSpace:
    """Free space on the filesystem holding ``path``, against a ``threshold`` (bytes)."""

    path: Path
    free: int
    total: int
    threshold: int

    @property
    def low(self) -> bool:
        return self.free < self.threshold

    def describe(self) -> str:
        """``"3.2 GB free of 100 GB at data (below the 5 GB minimum)"``, for /info and logs."""
        text = f"{_size(self.free)} free of {_size(self.total)} at {self.path}"
        return text + (f" (below the {_size(self.threshold)} minimum)" if self.low else "")


def disk_space(path: Path, threshold: int) -> DiskSpace:
    """Free space where ``path`` is (or would be created: the nearest existing parent)."""
    existing = path.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    usage = shutil.disk_usage(existing)
    return DiskSpace(path, usage.free, usage.total, threshold)


def _size(count: int) -> str:
    amount = float(count)
    for unit in ("bytes", "kB", "MB", "GB"):
        if amount < 1000:
            return f"{amount:.0f} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{amount:.1f} TB"


def _who() -> str:
    return f"mjbot runs as user {os.getuid()}" if hasattr(os, "getuid") else "check permissions"
