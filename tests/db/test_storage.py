"""Image files: content-addressed, atomic, and never served when missing or corrupt."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from db import ImageCorruptError, ImageMissingError, ImageStore


def test_storage_put_and_read_back(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    stored = store.put(b"\x89PNG fake image", "png")
    assert stored.sha256 == hashlib.sha256(b"\x89PNG fake image").hexdigest()
    assert stored.path == f"images/{stored.sha256[:2]}/{stored.sha256[2:4]}/{stored.sha256}.png"
    assert store.read(stored.path, stored.sha256) == b"\x89PNG fake image"
    assert store.put(b"\x89PNG fake image", ".png") == stored  # same content, same file
    leftovers = list(tmp_path.rglob(".tmp-*"))
    assert leftovers == []


def test_storage_detects_a_corrupted_file(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    stored = store.put(b"original bytes", "webp")
    (tmp_path / stored.path).write_bytes(b"original bytez")
    with pytest.raises(ImageCorruptError):
        store.read(stored.path, stored.sha256)
    # writing the same content again repairs it
    store.put(b"original bytes", "webp")
    assert store.read(stored.path, stored.sha256) == b"original bytes"


def test_storage_detects_a_missing_file(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    stored = store.put(b"data", "png")
    (tmp_path / stored.path).unlink()
    with pytest.raises(ImageMissingError):
        store.verify(stored.path, stored.sha256)
