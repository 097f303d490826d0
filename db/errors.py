"""Errors raised by the persistence layer; the root is :class:`StorageError`."""

from __future__ import annotations

__all__ = [
    "IllegalTransitionError",
    "ImageCorruptError",
    "ImageMissingError",
    "JobNotFoundError",
    "QueueFullError",
    "StorageError",
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
