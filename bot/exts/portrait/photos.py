"""``/portrait train``'s photo checks: each upload read, stored and given a verdict.

A verdict is ``kept`` or why not — not an image, unreadable, the same photo twice, no face,
several faces, face too small, too blurry (``engine.portrait.photos``). Reading and storing
go through the reference fetcher (Discord's CDN, size and pixel limits); face detection runs
in a thread with the process's face models (loaded once, on first use).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import discord

from bot.errors import UserError
from bot.jobs.references import ReferenceFetcher
from bot.jobs.spec import ReferenceSpec, Role, StoredFile
from bot.jobs.transfer import pending_upload

__all__ = ["KEPT", "CheckedPhoto", "check_photos", "verdicts_text"]

KEPT = "kept"


@dataclass(frozen=True, slots=True)
class CheckedPhoto:
    name: str
    """The upload's file name."""
    verdict: str
    file: StoredFile | None = None
    """Where it is stored (if it could be read)."""

    @property
    def kept(self) -> bool:
        return self.file is not None and self.verdict == KEPT


async def check_photos(
    uploads: list[discord.Attachment], references: ReferenceFetcher
) -> list[CheckedPhoto]:
    """Each upload's verdict, in the order given (each readable one stored: the caller
    deletes the ones it does not use)."""
    checked: list[CheckedPhoto] = []
    seen: dict[str, str] = {}
    for number, upload in enumerate(uploads, 1):
        name = upload.filename
        try:
            pending = pending_upload(
                f"photo{number}", upload, Role.IMAGE, references.fetcher.limits.max_bytes
            )
            stored = await references.fetch(pending)
        except UserError as refusal:
            checked.append(CheckedPhoto(name, _reason(refusal.message)))
            continue
        file = stored.file
        if file is None:  # pragma: no cover - fetch always stores
            checked.append(CheckedPhoto(name, "could not be stored"))
            continue
        if file.sha256 in seen:
            checked.append(CheckedPhoto(name, f"the same photo as {seen[file.sha256]}"))
            continue
        seen[file.sha256] = name
        verdict = await asyncio.to_thread(_verdict, references, stored)
        checked.append(CheckedPhoto(name, verdict, file))
    return checked


def _verdict(references: ReferenceFetcher, stored: ReferenceSpec) -> str:
    from bot.fetch import decode_image
    from engine.portrait import default_faces, prepare_photo

    assert stored.file is not None  # noqa: S101 - stored by the caller
    image = decode_image(references.store.read(stored.file.path, stored.file.sha256))
    return prepare_photo(image, default_faces()).reason


def _reason(message: str) -> str:
    """A refusal about one upload as a verdict (``photo2: x.txt is not an image…`` → the
    part after the option's name)."""
    head, _, tail = message.partition(": ")
    return tail if tail and head.startswith("photo") else message


def verdicts_text(checked: list[CheckedPhoto]) -> str:
    """One line per photo: ``✅ face.jpg — kept`` or ``❌ wall.png — no face found``."""
    lines = []
    for photo in checked:
        mark = "✅" if photo.kept else "❌"
        lines.append(f"{mark} **{_short(photo.name)}** — {photo.verdict}")
    return "\n".join(lines)


def _short(name: str, limit: int = 60) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
