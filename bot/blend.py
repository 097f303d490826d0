"""``/blend``: 2–5 uploaded images blended into a new grid (an image-only ``/imagine``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot import texts
from bot.commands import restarting_embed, start_jobs
from bot.errors import incident, prompt_error_embed, send_embed
from bot.fetch import FetchError
from bot.preferences import load_preferences, parse_with_preferences
from bot.uploads import read_upload, stored_entry
from db import JobKind
from parser import PromptError

if TYPE_CHECKING:
    from bot.service import JobService

__all__ = ["DIMENSIONS", "blend"]

log = logging.getLogger(__name__)

DIMENSIONS = {"Portrait": "--ar 2:3", "Square": "--ar 1:1", "Landscape": "--ar 3:2"}
"""Midjourney's choices: the values are the parameters they add (Square is the default)."""


@app_commands.command(name="blend", description="Blend 2–5 images into a new one")
@app_commands.describe(
    image1="First image",
    image2="Second image",
    image3="Third image (optional)",
    image4="Fourth image (optional)",
    image5="Fifth image (optional)",
    dimensions="Shape of the result (default: Square)",
)
@app_commands.choices(
    dimensions=[app_commands.Choice(name=name, value=value) for name, value in DIMENSIONS.items()]
)
async def blend(
    interaction: discord.Interaction[Any],
    image1: discord.Attachment,
    image2: discord.Attachment,
    image3: discord.Attachment | None = None,
    image4: discord.Attachment | None = None,
    image5: discord.Attachment | None = None,
    dimensions: app_commands.Choice[str] | None = None,
) -> None:
    service: JobService = interaction.client.service
    uploads = [a for a in (image1, image2, image3, image4, image5) if a is not None]
    try:
        await _blend(interaction, service, uploads, dimensions.value if dimensions else None)
    except Exception as error:
        await incident(interaction, error)


async def _blend(
    interaction: discord.Interaction[Any],
    service: JobService,
    uploads: list[discord.Attachment],
    dimensions: str | None,
) -> None:
    if not service.accepting:
        await send_embed(interaction, restarting_embed())
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    # 1. Read and check every image; the same picture twice is refused (by content).
    fetched = []
    for upload in uploads:
        try:
            fetched.append(await read_upload(upload, service.fetcher.limits))
        except FetchError as error:
            await _reply(interaction, texts.error_embed("Invalid image", f"Could not use {error}"))
            return
    if len({f.sha256 for f in fetched}) < len(fetched):
        await _reply(
            interaction,
            texts.error_embed(
                "Duplicate images detected",
                "The same image was uploaded more than once; blend needs different images.",
            ),
        )
        return
    # 2. The prompt is the images' URLs and the dimensions, as Midjourney echoes it, with the
    #    user's suffix and settings (the dimensions override the suffix's --ar).
    text = " ".join(f.url for f in fetched) + f" {dimensions or DIMENSIONS['Square']}"
    preferences = await load_preferences(service.db, interaction.user.id)
    try:
        [prompt] = parse_with_preferences(text, preferences, max_permutations=1)
    except PromptError as error:
        await _reply(interaction, prompt_error_embed(error, "/blend"))
        return
    references = [
        {"role": "image", "weight": 1.0, **await stored_entry(service.store, f)} for f in fetched
    ]
    await start_jobs(
        interaction,
        service,
        [prompt],
        text,
        kind=JobKind.BLEND,
        references=references,
        default_mode=preferences.mode,
    )


async def _reply(interaction: discord.Interaction[Any], embed: discord.Embed) -> None:
    await interaction.edit_original_response(content=None, embed=embed)
