"""Images given on the command line (files or links), read and checked like uploads."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.fetch import FetchError, FetchLimits, check_image_bytes

__all__ = ["InputError", "is_link", "read_image"]


class InputError(Exception):
    """A bad file, link or number on the command line: one line, exit 2."""


def is_link(given: str) -> bool:
    return given.lower().startswith(("http://", "https://"))


async def read_image(name: str, given: str, limits: FetchLimits) -> bytes:
    """The image's bytes, checked (format, size, decompression bombs); links through the bot's
    safe fetcher. :class:`InputError` names the argument (``name``) and what is wrong."""
    try:
        if is_link(given):
            from bot.fetch import Fetcher

            print(f"fetching {given}…", file=sys.stderr)
            async with Fetcher(limits) as fetcher:
                return (await fetcher.fetch_image(given)).data
        data = await asyncio.to_thread(Path(given).read_bytes)
        await asyncio.to_thread(check_image_bytes, data, limits, url=given)
    except FetchError as error:
        raise InputError(f"{name}: {error}") from None
    except OSError as error:
        raise InputError(f"{name}: cannot read {given} ({error.strerror})") from None
    return data
