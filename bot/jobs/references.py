"""A job's reference images: which a prompt has, fetching them (a stage of the job), and
reading them back for the engine.

Image prompts, ``--sref`` and ``--cref`` URLs and uploaded images are recorded with the job
first, as *pending*; then they are downloaded once (URLs with the safe fetcher, uploads from
Discord's CDN), checked and stored content-addressed, and the job's spec is updated. A crash
in between leaves a queued job with pending references, which recovery resumes. Numeric
style codes need no download; ``--sref random`` becomes a code at submission, written into
the job's prompt, so rerolls and variations keep the same style.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.errors import UserError
from bot.fetch import Fetcher, FetchError, check_image_bytes
from bot.jobs.spec import (
    Background,
    JobSpec,
    Mimic,
    ReferenceSpec,
    Retexture,
    Role,
    StoredFile,
    Transfer,
)
from engine.request import Reference
from engine.style_codes import random_style_code
from parser import Prompt, parse_one

if TYPE_CHECKING:
    from PIL import Image

    from db import ImageStore

__all__ = [
    "SAME_IMAGES",
    "SAME_MIMIC_IMAGES",
    "ReferenceFetcher",
    "engine_references",
    "read_reference",
    "resolve_random_styles",
    "reuse",
    "upload_reference",
    "wanted_references",
]

RANDOM = "random"
DUPLICATES = "The same image was uploaded more than once; blend needs different images."
SAME_IMAGES = (
    "The content and style images are the same picture; style transfer needs two different images."
)
SAME_MIMIC_IMAGES = (
    "The image and the reference are the same picture; a reference edit needs a different "
    "reference."
)

ReadCdn = Callable[[str], Awaitable[bytes]]
"""Reads an attachment from Discord's CDN (trusted: discord.py's own HTTP client)."""


def wanted_references(prompt: Prompt) -> tuple[ReferenceSpec, ...]:
    """The prompt's references in order (image prompts, styles, characters), pending."""
    wanted = [ReferenceSpec(Role.IMAGE, i.weight, url=i.url) for i in prompt.images]
    for style in prompt.params.sref:
        if style.is_url:
            wanted.append(ReferenceSpec(Role.STYLE, style.weight, url=style.ref))
        elif style.is_code:
            wanted.append(ReferenceSpec(Role.STYLE, style.weight, code=int(style.ref)))
    wanted += [ReferenceSpec(Role.CHARACTER, url=url) for url in prompt.params.cref]
    return tuple(wanted)


def resolve_random_styles(prompt: Prompt) -> Prompt:
    """``--sref random`` → ``--sref <new code>``, a new code for each ``random`` (each job of
    a permutation or ``--repeat`` prompt calls this, so each gets its own style)."""
    if not any(s.ref.lower() == RANDOM for s in prompt.params.sref):
        return prompt
    words = prompt.canonical.split(" ")
    inside = False
    for index, word in enumerate(words):
        if word.startswith("--"):
            inside = word.lower() == "--sref"
            continue
        head, sep, weight = word.partition("::")
        if inside and head.lower() == RANDOM:
            words[index] = f"{random_style_code()}{sep}{weight}"
    return parse_one(" ".join(words))


class ReferenceFetcher:
    """Fetches and stores a spec's pending references."""

    def __init__(self, fetcher: Fetcher, store: ImageStore, read_cdn: ReadCdn) -> None:
        self.fetcher = fetcher
        self.store = store
        self.read_cdn = read_cdn

    async def resolve(self, spec: JobSpec) -> JobSpec:
        """``spec`` with every pending reference (and a style transfer's or a reference
        edit's images) stored; :class:`UserError` naming a link or upload that cannot be
        used. The same URL twice is fetched once."""
        done: dict[str, ReferenceSpec] = {}

        async def stored(reference: ReferenceSpec) -> ReferenceSpec:
            if not reference.pending or reference.url is None:
                return reference
            if reference.url not in done:
                done[reference.url] = await self.fetch(reference)
            found = done[reference.url]
            return replace(reference, file=found.file, width=found.width, height=found.height)

        resolved = [await stored(reference) for reference in spec.references]
        uploads = [r.file.sha256 for r in resolved if r.upload and r.file is not None]
        if len(set(uploads)) < len(uploads):
            raise UserError(DUPLICATES, title="Duplicate images detected")
        work = spec.work
        if isinstance(work, Transfer):
            content = work.content
            if isinstance(content, ReferenceSpec):
                content = await stored(content)
            work = replace(work, content=content, style=await stored(work.style))
            if isinstance(content, ReferenceSpec) and _same_file(content, work.style):
                raise UserError(SAME_IMAGES, title="Identical images")
        elif isinstance(work, Retexture):
            if isinstance(work.image, ReferenceSpec):
                work = replace(work, image=await stored(work.image))
        elif isinstance(work, Background):
            image = work.image
            if isinstance(image, ReferenceSpec):
                image = await stored(image)
            subject = await stored(work.subject) if work.subject is not None else None
            work = replace(work, image=image, subject=subject)
        elif isinstance(work, Mimic):
            image = work.image
            if isinstance(image, ReferenceSpec):
                image = await stored(image)
            mask, reference = await stored(work.mask), await stored(work.reference)
            work = replace(work, image=image, mask=mask, reference=reference)
            if isinstance(image, ReferenceSpec) and _same_file(image, reference):
                raise UserError(SAME_MIMIC_IMAGES, title="Identical images")
        return replace(spec, references=tuple(resolved), work=work)

    async def fetch(self, reference: ReferenceSpec) -> ReferenceSpec:
        """Download a pending reference (a link, or an upload from Discord), check it is an
        image within the limits, and store it; :class:`UserError` naming it if it cannot."""
        if reference.url is None:
            raise ValueError("only references with a URL are fetched")
        try:
            if reference.upload:
                data, format_, width, height = await self._read_upload(reference)
            else:
                fetched = await self.fetcher.fetch_image(reference.url)
                data, format_ = fetched.data, fetched.format
                width, height = fetched.width, fetched.height
        except FetchError as error:
            title = "Invalid image" if reference.upload else "Invalid link"
            raise UserError(f"Could not use {error}", title=title) from None
        stored = await asyncio.to_thread(self.store.put, data, format_)
        file = StoredFile(stored.path, stored.sha256)
        return replace(reference, file=file, width=width, height=height)

    async def _read_upload(self, reference: ReferenceSpec) -> tuple[bytes, str, int, int]:
        import discord

        url = reference.url or ""
        name = url.rsplit("/", 1)[-1].split("?", 1)[0] or "upload"
        limits = self.fetcher.limits
        if reference.size is not None and reference.size > limits.max_bytes:
            raise FetchError(name, f"is larger than {limits.max_bytes // (1024 * 1024)} MiB")
        try:
            data = await self.read_cdn(url)
        except discord.HTTPException as error:
            raise FetchError(name, f"could not be read from Discord ({error.status})") from None
        format_, width, height = await asyncio.to_thread(check_image_bytes, data, limits, url=name)
        return data, format_, width, height


def _same_file(first: ReferenceSpec, second: ReferenceSpec) -> bool:
    return first.file is not None and second.file is not None and first.file == second.file


def reuse(
    wanted: Sequence[ReferenceSpec], known: Sequence[ReferenceSpec]
) -> tuple[ReferenceSpec, ...]:
    """``wanted`` with the stored files of ``known`` references (a parent job's) of the same
    URL, so an edited prompt does not download them again."""
    done = {r.url: r for r in known if r.url and r.file is not None}
    out = []
    for reference in wanted:
        found = done.get(reference.url or "") if reference.pending else None
        if found is not None:
            reference = replace(reference, file=found.file, width=found.width, height=found.height)
        out.append(reference)
    return tuple(out)


def upload_reference(url: str, size: int) -> ReferenceSpec:
    """An image attached to a command (``/blend``), read from Discord when the job starts."""
    return ReferenceSpec(Role.IMAGE, url=url, upload=True, size=size)


def engine_references(
    spec: JobSpec, read: Callable[[str, str], Image.Image]
) -> tuple[Reference, ...]:
    """The spec's stored reference images, read with ``read(path, sha256)`` (blocking), and
    its style codes, as the engine takes them."""
    out = []
    for reference in spec.references:
        role = reference.role.engine_role
        if reference.code is not None:
            out.append(Reference(role, weight=reference.weight, code=reference.code))
        elif reference.file is not None:
            image = read(reference.file.path, reference.file.sha256)
            out.append(Reference(role, image, reference.weight))
    return tuple(out)


def read_reference(
    reference: ReferenceSpec, read: Callable[[str, str], Image.Image]
) -> Image.Image:
    """A stored reference's image, read with ``read(path, sha256)`` (blocking)."""
    if reference.file is None:
        raise ValueError(f"reference {reference.url} is not stored yet")
    return read(reference.file.path, reference.file.sha256)
