"""Persistence of the world in a data folder: SQLite records plus one file per attachment.

Changes are collected as the world reports them and written in batches, off the event loop,
a few milliseconds later (`FLUSH_DELAY`); `close()` writes what is left. A crash loses at most
that last batch. Attachment bytes leave memory once they are on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground import records
from playground.models import Attachment, Channel, Guild, InteractionRecord, Message, User
from playground.world import World

log = logging.getLogger(__name__)

FLUSH_DELAY = 0.05
SCHEMA_VERSION = 1
DATABASE = "playground.db"
FILES = "files"

_Key = tuple[str, str]
"""(kind, key) of one record: ("message", "123"), ("commands", "global")."""


@dataclass(slots=True)
class _Batch:
    upserts: dict[_Key, str] = field(default_factory=dict)
    deletes: set[_Key] = field(default_factory=set)
    new_files: dict[int, bytes] = field(default_factory=dict)
    gone_files: set[int] = field(default_factory=set)
    meta: dict[str, str] = field(default_factory=dict)


class Store:
    """The world's records in `folder/playground.db`, attachment bytes in `folder/files/`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = folder / FILES
        self.files.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(folder / DATABASE, check_same_thread=False)
        with self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS records "
                "(kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL, "
                "PRIMARY KEY (kind, key))"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
        self._world: World | None = None
        self._dirty: dict[_Key, object] = {}
        self._gone: set[_Key] = set()
        self._gone_files: set[int] = set()
        self._meta: dict[str, str] = {}
        # One writer thread: batches are applied in the order they were taken.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playground-store")
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    # -- loading ------------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def restore(self, world: World) -> bool:
        """Fill `world` from the folder; False (and nothing changed) when it is empty."""
        meta = self.meta()
        if not meta:
            return False
        if int(meta["schema"]) != SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.folder / DATABASE} has schema {meta['schema']}, expected {SCHEMA_VERSION}"
            )
        rows: dict[str, list[Any]] = {}
        for kind, data in self._db.execute("SELECT kind, data FROM records"):
            rows.setdefault(kind, []).append(json.loads(data))
        world.users = {u.id: u for u in map(records.user_from, rows.get("user", []))}
        world.guilds = {g.id: g for g in map(records.guild_from, rows.get("guild", []))}
        world.channels = {c.id: c for c in map(records.channel_from, rows.get("channel", []))}
        world.attachments = {}
        for data in rows.get("attachment", []):
            att = records.attachment_from(data, self.files / str(data["id"]))
            att.url = world.attachment_url(att)
            world.attachments[att.id] = att
        world.messages = {}
        for data in rows.get("message", []):
            msg = records.message_from(data, world.attachments)
            world.messages[msg.id] = msg
        world.commands = {}
        for data in rows.get("commands", []):
            world.commands[data["scope"]] = data["commands"]
        world.interactions = {}
        now_wall, now = time.time(), world.clock.now()
        for data in rows.get("interaction", []):
            rec = records.interaction_from(data, world, now - (now_wall - data["created"]))
            world.interactions[rec.token] = rec
        world.token = meta["token"]
        world.owner = world.users[int(meta["owner_id"])]
        world.bot_user = world.users[int(meta["bot_user_id"])]
        world.application_id = world.bot_user.id
        world.restored(max([0, *world.users, *world.messages, *world.attachments]))
        return True

    # -- following the world ------------------------------------------------------------------

    def follow(self, world: World, *, save_all: bool) -> None:
        """Record every later change of `world`; `save_all` first marks all of it dirty."""
        self._world = world
        self._meta = {
            "schema": str(SCHEMA_VERSION),
            "token": world.token,
            "owner_id": str(world.owner.id),
            "bot_user_id": str(world.bot_user.id),
        }
        world.listen(self._on_change)
        if save_all:
            for kind, subject in _everything(world):
                self._on_change(kind, subject)

    def _on_change(self, kind: str, subject: object) -> None:
        if isinstance(subject, Message):
            if subject.deleted:
                self._gone.add(("message", str(subject.id)))
                self._dirty.pop(("message", str(subject.id)), None)
            else:
                self._dirty[("message", str(subject.id))] = subject
        elif kind == "attachments_dropped" and isinstance(subject, list):
            for att in subject:
                self._dirty.pop(("attachment", str(att.id)), None)
                self._gone.add(("attachment", str(att.id)))
                self._gone_files.add(att.id)
        elif isinstance(subject, User | Guild | Channel | Attachment):
            self._dirty[(kind, str(subject.id))] = subject
        elif isinstance(subject, InteractionRecord):
            self._dirty[("interaction", subject.token)] = subject
        elif kind == "commands":
            scope = subject if isinstance(subject, int) else None
            self._dirty[("commands", str(scope))] = scope
        else:
            return
        self._schedule()

    def forget(self, interactions: list[InteractionRecord]) -> None:
        for rec in interactions:
            self._dirty.pop(("interaction", rec.token), None)
            self._gone.add(("interaction", rec.token))
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # built before the loop runs: `flush()` at start writes it
        self._timer = loop.call_later(FLUSH_DELAY, self._start_flush)

    def _start_flush(self) -> None:
        self._timer = None
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self.flush())
        else:
            self._schedule()  # one batch at a time; the next one follows it

    # -- writing ------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write every change so far (serialised here, written in the store's thread)."""
        async with self._lock:
            batch, written = self._take()
            if not (batch.upserts or batch.deletes or batch.meta):
                return
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._write, batch)
            for att in written:
                # Reads now come from the file; the bytes need not stay in memory.
                att.path = self.files / str(att.id)
                att.blob = None

    def _take(self) -> tuple[_Batch, list[Attachment]]:
        world = self._world
        batch = _Batch(meta=self._meta)
        written: list[Attachment] = []
        if world is None:
            return batch, written
        dirty, self._dirty = self._dirty, {}
        batch.deletes, self._gone = self._gone, set()
        batch.gone_files, self._gone_files = self._gone_files, set()
        for (kind, key), subject in dirty.items():
            data = records.record_of(kind, subject, world)
            batch.upserts[(kind, key)] = json.dumps(data, separators=(",", ":"))
            fresh = isinstance(subject, Attachment) and subject.blob is not None
            if isinstance(subject, Attachment) and fresh and subject.id not in batch.gone_files:
                batch.new_files[subject.id] = subject.blob or b""
                written.append(subject)
        return batch, written

    def _write(self, batch: _Batch) -> None:
        for att_id, data in batch.new_files.items():
            tmp = self.files / f"{att_id}.tmp"
            tmp.write_bytes(data)
            tmp.replace(self.files / str(att_id))  # a file is whole or absent
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO records (kind, key, data) VALUES (?, ?, ?)",
                [(kind, key, data) for (kind, key), data in batch.upserts.items()],
            )
            self._db.executemany(
                "DELETE FROM records WHERE kind = ? AND key = ?", sorted(batch.deletes)
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", batch.meta.items()
            )
        for att_id in batch.gone_files:
            with contextlib.suppress(FileNotFoundError):
                (self.files / str(att_id)).unlink()

    async def close(self) -> None:
        if self._closed:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is not None:
            await self._flushing
        await self.flush()
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._db.close)
        self._executor.shutdown(wait=True)


def _everything(world: World) -> Iterator[tuple[str, object]]:
    yield from (("user", u) for u in world.users.values())
    yield from (("guild", g) for g in world.guilds.values())
    yield from (("channel", c) for c in world.channels.values())
    yield from (("attachment", a) for a in world.attachments.values())
    yield from (("message", m) for m in world.messages.values())
    yield from (("commands", scope) for scope in world.commands)
    yield from (("interaction", r) for r in world.interactions.values())
