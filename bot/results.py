"""Posting a finished job: its image (a 2×2 grid or one picture) under the upload limit, with
the buttons that belong under it."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import discord
from PIL import Image

from bot import texts
from bot.buttons import grid_view, single_view
from db import ImageStore, JobKind
from engine.grid import compose_grid, encode_to_fit

__all__ = ["HTTP_TOO_LARGE", "post_result"]

HTTP_TOO_LARGE = 413


async def post_result(
    store: ImageStore,
    job: Any,
    channel: Any,
    limit: int,
    *,
    remix: bool = False,
    nonce: str | None = None,
) -> Any:
    """Send ``job`` (loaded with its images) under ``limit`` bytes; if Discord still finds it
    too large (the limit changed), try once more at half the size. ``remix``: the owner has
    Remix mode on (green V buttons)."""
    files = [(i.path, i.sha256) for i in job.images]
    if len(files) == 4:
        buttons = grid_view(job.id, remix=remix)
    else:
        first = job.images[0]
        square = first.width == first.height
        buttons = single_view(job.id, 1, square, upscaled=job.kind == JobKind.UPSCALE)
    label = job.parameters.get("label")
    text = texts.final_text(job.prompt, label, job.user_id, str(job.mode))
    for attempt in range(2):
        encoded = await asyncio.to_thread(_encode, store, files, limit)
        name = f"{_slug(job.prompt)}_{job.id}{encoded.extension}"
        try:
            return await channel.send(
                text,
                file=discord.File(io.BytesIO(encoded.data), filename=name),
                view=buttons,
                nonce=nonce,
                allowed_mentions=discord.AllowedMentions(users=True),
            )
        except discord.HTTPException as error:
            if error.status != HTTP_TOO_LARGE or attempt:
                raise
            limit //= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _encode(store: ImageStore, files: list[tuple[str, str]], limit: int) -> Any:
    images = [Image.open(io.BytesIO(store.read(path, sha))) for path, sha in files]
    picture = compose_grid(images) if len(images) > 1 else images[0]
    return encode_to_fit(picture, limit)


def _slug(prompt: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", prompt.lower().split(" --")[0]).strip("_")
    return words[:48].rstrip("_") or "image"
