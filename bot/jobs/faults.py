"""Storage faults (a full disk, a read-only or unwritable data folder): what to tell the
user about a result that could not be saved."""

from __future__ import annotations

import errno

from db import DiskFullError, StorageFaultError

__all__ = ["STORAGE_RETRIES", "storage_fault"]

STORAGE_RETRIES = 3
"""Attempts at storing a result before the job fails (a full disk may be freed meanwhile)."""

_FULL = "the server's disk is full; try again later"
_READ_ONLY = "the server cannot write its files (an admin must fix the data folder's permissions)"


def storage_fault(error: BaseException) -> str | None:
    """Why saving failed, for the user (``could not save the result — <this>``), when
    ``error`` is a storage fault (typed by ``db``, or a raw ``OSError``); ``None`` otherwise."""
    if isinstance(error, StorageFaultError):
        return _FULL if isinstance(error, DiskFullError) else _READ_ONLY
    if isinstance(error, OSError):
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return _FULL
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return _READ_ONLY
    return None
