"""Storage faults (a full disk, a read-only or unwritable data folder): what to tell the user,
and what to log once for the admin."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

__all__ = ["STORAGE_RETRIES", "free_bytes", "storage_fault"]

STORAGE_RETRIES = 3
"""Attempts at storing a result before the job fails (a full disk may be freed meanwhile)."""

_FULL = "the server's disk is full; try again later"
_READ_ONLY = "the server cannot write its files (an admin must fix the data folder's permissions)"


def storage_fault(error: BaseException) -> str | None:
    """Why saving failed, for the user (``could not save the result — <this>``), when
    ``error`` is a storage fault; ``None`` for anything else."""
    if isinstance(error, OSError):
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return _FULL
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return _READ_ONLY
        return None
    text = str(error).lower()
    if "database or disk is full" in text:
        return _FULL
    if "readonly database" in text or "read-only" in text:
        return _READ_ONLY
    return None


def free_bytes(folder: Path) -> int:
    """Free space on the file system holding ``folder``."""
    return shutil.disk_usage(folder).free
