"""Images uploaded as command attachments (``/blend``, ``/describe``): read, check, store.

Uploads get the same checks as URLs (size, format, decompression bombs); only the download
differs: Discord's CDN is trusted, so discord.py reads it, after the declared size is checked.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import discord

from bot.fetch import FetchedImage, FetchError, FetchLimits, check_image_bytes

__all__ = ["read_upload", "stored_entry"]


async def read_upload(attachment: discord.Attachment, limits: FetchLimits) -> FetchedImage:
    """The attachment's bytes, checked; :class:`~bot.fetch.FetchError` naming the file."""
    name = attachment.filename
    if attachment.size > limits.max_bytes:
        raise FetchError(name, f"is larger than {limits.max_bytes // (1024 * 1024)} MiB")
    try:
        data = await attachment.read()
    except discord.HTTPException as error:
        raise FetchError(name, f"could not be read from Discord ({error.status})") from None
    format_, width, height = await asyncio.to_thread(check_image_bytes, data, limits, url=name)
    return FetchedImage(
        url=attachment.url,
        final_url=attachment.url,
        data=data,
        content_type=attachment.content_type or f"image/{format_}",
        format=format_,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


async def stored_entry(store: Any, fetched: FetchedImage) -> dict[str, Any]:
    """Store the image (content-addressed, off the loop) and describe it for a job spec."""
    stored = await asyncio.to_thread(store.put, fetched.data, fetched.format)
    return {
        "url": fetched.url,
        "path": stored.path,
        "sha256": stored.sha256,
        "width": fetched.width,
        "height": fetched.height,
    }
