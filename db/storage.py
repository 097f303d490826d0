"""Image files: content-addressed, written atomically, verified when read.

A file's name is its SHA-256, so identical images are stored once and a file never changes
after it is written. Writes go to a temporary file in the same folder, are flushed to disk,
then renamed into place, so a crash never leaves a half-written image under a real name.
Callers write the file *before* committing the row that points at it. A write the system
refuses (disk full, permission, read-only) raises a :class:`~db.errors.StorageFaultError`
naming the folder and the cause, and leaves no temporary file behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from db.errors import ImageCorruptError, ImageMissingError
from db.faults import check_writable_folder, os_fault

__all__ = ["ImageStore", "StoredFile"]


@dataclass(frozen=True, slots=True)
class StoredFile:
    path: str
    """Relative to the store's root, e.g. ``images/ab/cd/abcd….png``."""
    sha256: str
    size: int


class ImageStore:
    """Files under ``root`` (the data folder). Blocking: call from a worker thread."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def check(self) -> None:
        """At start-up: the images folder exists (or is created) and takes new files;
        raises :class:`~db.errors.StorageFaultError` naming it and the cause."""
        check_writable_folder(self.root / "images")

    def put(self, data: bytes, extension: str) -> StoredFile:
        """Store ``data``; raises :class:`~db.errors.StorageFaultError` when the system
        refuses (:class:`~db.errors.DiskFullError`, :class:`~db.errors.NotWritableError`)."""
        digest = hashlib.sha256(data).hexdigest()
        relative = Path("images", digest[:2], digest[2:4], f"{digest}.{extension.lstrip('.')}")
        target = self.root / relative
        try:
            if target.exists() and self._hash(target) == digest:
                return StoredFile(relative.as_posix(), digest, len(data))
            self._write(target, data)
        except OSError as error:
            raise os_fault(error, target.parent) from error
        return StoredFile(relative.as_posix(), digest, len(data))

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_directory(target.parent)

    def read(self, path: str, sha256: str) -> bytes:
        """The file's bytes, checked against ``sha256``; never silently serves a bad file."""
        target = self.root / path
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise ImageMissingError(f"image file {path} is missing") from None
        except OSError as error:
            raise os_fault(error, target, action="read") from error
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ImageCorruptError(f"image file {path} is corrupt (its hash does not match)")
        return data

    def remove(self, path: str) -> bool:
        """Delete a stored file (the caller knows nothing uses it any more); ``False`` when
        it was already gone. Only files inside the store's images folder."""
        target = (self.root / path).resolve()
        if not target.is_relative_to((self.root / "images").resolve()):
            raise ValueError(f"{path} is not a stored image")
        try:
            target.unlink()
        except FileNotFoundError:
            return False
        except OSError as error:
            raise os_fault(error, target, action="delete") from error
        return True

    def verify(self, path: str, sha256: str) -> None:
        self.read(path, sha256)

    @staticmethod
    def _hash(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()


def _fsync_directory(folder: Path) -> None:
    # The rename itself must reach the disk, or a power cut can lose the new name.
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
