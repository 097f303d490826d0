"""Style transfer jobs: the checks on their options, their echo (``content + style``) and
their spec — shared by ``/transfer``, the 🎨 button and ``mjbot transfer``.

The checks raise :class:`UserError` naming the input; nothing is queued on a refusal. Whether
a link can be fetched and an upload is an image are found when the job launches (the
reference stage), where the job fails visibly with the link named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.errors import UserError
from bot.jobs.spec import JobSpec, PromptSettings, ReferenceSpec, Role, SourceImage, Transfer
from engine.request import random_seed

if TYPE_CHECKING:
    import discord

__all__ = [
    "IMAGE_TYPES",
    "LABEL",
    "NAME_MAX",
    "SIZE_RANGE",
    "STRENGTH_DEFAULT",
    "STRENGTH_RANGE",
    "TransferOptions",
    "check_link",
    "check_number",
    "parse_number",
    "pending_image",
    "pending_upload",
    "short_name",
    "transfer_prompt",
    "transfer_spec",
]

LABEL = "Style Transfer"
"""Shown as ``**content + style** - Style Transfer by @user``."""
STRENGTH_RANGE = (0, 1000)
STRENGTH_DEFAULT = 100
SIZE_RANGE = (64, 2048)
NAME_MAX = 60
"""Each side of ``content + style`` is shortened to this many characters."""
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
INVALID = "Invalid parameter"
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class TransferOptions:
    """What the user chose besides the two images."""

    strength: int = STRENGTH_DEFAULT
    size: int | None = None
    preserve_colors: bool = False

    def check(self) -> TransferOptions:
        check_number("strength", self.strength, STRENGTH_RANGE)
        if self.size is not None:
            check_number("size", self.size, SIZE_RANGE)
        return self


def check_number(name: str, value: int, bounds: tuple[int, int]) -> int:
    """``value`` if within ``bounds``; never corrected silently."""
    low, high = bounds
    if not low <= value <= high:
        raise UserError(f"{name} must be {low}–{high} (got {value}).", title=INVALID)
    return value


def parse_number(name: str, text: str, bounds: tuple[int, int]) -> int:
    """A whole number typed in a form, checked against ``bounds``."""
    try:
        value = int(text.strip())
    except ValueError:
        raise UserError(f"{name} must be a whole number (got {text!r}).", title=INVALID) from None
    return check_number(name, value, bounds)


def pending_upload(
    name: str, upload: discord.Attachment, role: Role, max_bytes: int
) -> ReferenceSpec:
    """An attached image, checked by what Discord declares (type, size) and pending: it is
    read from Discord's CDN when the job launches. :class:`UserError` names ``name``."""
    kind = (upload.content_type or "").split(";", 1)[0].strip().lower()
    if kind and kind not in IMAGE_TYPES:
        raise UserError(
            f"{name}: {upload.filename} is not an image (PNG, JPEG, WebP or GIF).",
            title="Invalid image",
        )
    if upload.size > max_bytes:
        raise UserError(
            f"{name}: {upload.filename} is larger than {max_bytes // MIB} MiB.",
            title="Invalid image",
        )
    return ReferenceSpec(role, url=upload.url, upload=True, size=upload.size)


def pending_image(
    command: str,
    name: str,
    upload: discord.Attachment | None,
    link: str | None,
    *,
    role: Role,
    max_bytes: int,
    what: str | None = None,
) -> tuple[ReferenceSpec, str]:
    """An image given as the ``name`` upload *or* the ``name_url`` link (exactly one), pending,
    and the name it is shown by; :class:`UserError` naming the option (``what``: how the
    refusal calls it, default ``name``)."""
    link = link.strip() if link else None
    if (upload is None) == (link is None):
        raise UserError(
            f"Give /{command} one {what or name}: attach it ({name}) or link it ({name}_url).",
            title=INVALID,
        )
    if upload is None:
        assert link is not None  # noqa: S101 - checked above
        link = check_link(f"{name}_url", link)
        return ReferenceSpec(role, url=link), link
    return pending_upload(name, upload, role, max_bytes), upload.filename


def check_link(name: str, link: str) -> str:
    """``link`` stripped, if it looks like a web link (fetching it comes later)."""
    link = link.strip()
    if not link.lower().startswith(("http://", "https://")) or " " in link:
        shown = link if len(link) <= 100 else link[:99] + "…"
        raise UserError(f"{name} is not a link: {shown!r}", title="Invalid link")
    return link


def short_name(text: str, limit: int = NAME_MAX) -> str:
    """A file name or link shortened in the middle, so both its start and its file name show
    (``https://host/…/style.png``)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = limit // 3
    return f"{text[:head]}…{text[-(limit - head - 1) :]}"


def transfer_prompt(content: str, style: str) -> str:
    """The job's echo: ``content + style`` (names shortened)."""
    return f"{short_name(content)} + {short_name(style)}"


def transfer_spec(
    content: SourceImage | ReferenceSpec,
    style: ReferenceSpec,
    options: TransferOptions,
    *,
    steps: int | None = None,
    seed: int | None = None,
) -> JobSpec:
    """A one-image style transfer job (its seed drawn now, so a re-run renders the same)."""
    work = Transfer(
        content=content,
        style=style,
        strength=options.strength,
        size=options.size,
        preserve_colors=options.preserve_colors,
        steps=steps,
    )
    return JobSpec(
        settings=PromptSettings(),
        seeds=(random_seed() if seed is None else seed,),
        work=work,
    )
