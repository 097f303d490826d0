"""Errors raised by the persistence layer; the root is :class:`StorageError`.

Two families matter to an operator: :class:`StorageFaultError` (the disk or the database
refused a write: disk full, permission, read-only; the job can fail visibly and be retried
later) and :class:`StartupError` (the bot must not start: a damaged or locked database, an
unusable data folder). Their ``str()`` is a complete message for the admin: what, where, why
and what to do.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DatabaseCorruptError",
    "DatabaseLockedError",
    "DiskFullError",
    "IllegalTransitionError",
    "ImageCorruptError",
    "ImageMissingError",
    "JobNotFoundError",
    "NotWritableError",
    "QueueFullError",
    "SchemaTooNewError",
    "StartupError",
    "StorageError",
    "StorageFaultError",
    "TooManyOptionsError",
]


class StorageError(Exception):
    """Root of the persistence layer's errors."""


class JobNotFoundError(StorageError):
    """No job has that id (or message id)."""


class IllegalTransitionError(StorageError):
    """A job status change that the lifecycle forbids (``done`` → ``running``…)."""


class QueueFullError(StorageError):
    """The user already has as many jobs running and waiting as allowed.

    ``active`` is how many they have; ``limit`` the most allowed.
    """

    def __init__(self, active: int, limit: int) -> None:
        super().__init__(f"{active} jobs running or queued; the limit is {limit}")
        self.active = active
        self.limit = limit


class TooManyOptionsError(StorageError):
    """A user already has the most ``/prefer option`` macros allowed."""


class ImageMissingError(StorageError):
    """An image file the database points at is not on disk."""


class ImageCorruptError(StorageError):
    """An image file on disk does not match the hash recorded for it."""


class StorageFaultError(StorageError):
    """The system refused to store something: a fault of the machine, not of the request.

    Attributes
    ----------
    path:
        The file or folder (or database) that could not be written.
    reason:
        Why, in a few words a user may see: ``"the server's disk is full"``.
    detail:
        The underlying error's text, for the log.
    """

    def __init__(
        self, path: Path | str, reason: str, detail: str = "", *, action: str = "write"
    ) -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        tail = f" ({detail})" if detail and detail != reason else ""
        super().__init__(f"cannot {action} {self.path}: {reason}{tail}")


class DiskFullError(StorageFaultError):
    """No space left (``ENOSPC``, ``EDQUOT``, SQLite's "database or disk is full")."""


class NotWritableError(StorageFaultError):
    """Permission denied, or a read-only filesystem or database file."""


class StartupError(StorageError):
    """The bot must not start on this storage; ``str()`` says why and what to do."""


class DatabaseCorruptError(StartupError):
    """``PRAGMA quick_check`` found damage (or the file is not a database); nothing was written.

    Attributes
    ----------
    path:
        The database file.
    problems:
        What SQLite reported, first problems first.
    backups:
        Backups found for it, newest first.
    """

    def __init__(self, path: Path, problems: list[str], backups: list[Path]) -> None:
        self.path = path
        self.problems = problems
        self.backups = backups
        restore = (
            f"restore the newest backup (cp {backups[0]} {path}), or "
            if backups
            else "restore it from a backup, or "
        )
        super().__init__(
            f"the database {path} is damaged ({'; '.join(problems[:3])}). mjbot did not start "
            f"and has not changed the file. To go on: {restore}salvage what is readable "
            f"(sqlite3 {path} .recover | sqlite3 recovered.db, then move recovered.db to "
            f"{path.name}), or move the file away to start with an empty database."
        )


class DatabaseLockedError(StartupError):
    """Another process holds the database's write lock (another mjbot on the same data?)."""

    def __init__(self, where: str, waited: float) -> None:
        self.where = where
        self.waited = waited
        super().__init__(
            f"the database {where} is locked by another process (waited {waited:g} s). "
            "Is another mjbot (or a sqlite3 shell) using the same data folder? Stop it, "
            "then start mjbot again."
        )


class SchemaTooNewError(StartupError):
    """The database's schema is newer than this code's migrations (a newer mjbot wrote it)."""

    def __init__(self, where: str, revision: str, newest_known: str) -> None:
        self.where = where
        self.revision = revision
        super().__init__(
            f"the database {where} has schema revision {revision}, which this mjbot does not "
            f"know (it knows up to {newest_known}): a newer mjbot wrote it. Run that version, "
            "or restore a backup made before the upgrade."
        )
