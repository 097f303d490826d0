"""``/blend``: 2–5 uploaded images blended into a new grid (an image-only ``/imagine``).

The job is recorded with the uploads as pending references; reading them from Discord,
checking them and refusing the same picture twice happen when it launches.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.deps import Deps, FeatureBot
from bot.errors import prompt_refusal
from bot.jobs.imagine import start_prompts
from bot.jobs.references import upload_reference
from bot.jobs.runner import RESTARTING
from bot.preferences import load_preferences, parse_with_preferences
from db import JobKind
from parser import PromptError

__all__ = ["DIMENSIONS", "setup"]

DIMENSIONS = {"Portrait": "--ar 2:3", "Square": "--ar 1:1", "Landscape": "--ar 3:2"}
"""Midjourney's choices: the values are the parameters they add (Square is the default)."""


class Blend(commands.Cog):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

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
        dimensions=[
            app_commands.Choice(name=name, value=value) for name, value in DIMENSIONS.items()
        ]
    )
    async def blend(
        self,
        interaction: discord.Interaction[Any],
        image1: discord.Attachment,
        image2: discord.Attachment,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        image5: discord.Attachment | None = None,
        dimensions: app_commands.Choice[str] | None = None,
    ) -> None:
        runner = self.deps.runner
        if not runner.accepting:
            raise RESTARTING
        uploads = [a for a in (image1, image2, image3, image4, image5) if a is not None]
        # The prompt is the images' URLs and the dimensions, as Midjourney echoes it, with the
        # user's suffix and settings (the dimensions override the suffix's --ar).
        shape = dimensions.value if dimensions else DIMENSIONS["Square"]
        text = " ".join(upload.url for upload in uploads) + f" {shape}"
        preferences = await load_preferences(self.deps.db, interaction.user.id)
        try:
            [prompt] = parse_with_preferences(text, preferences, max_permutations=1)
        except PromptError as error:
            raise prompt_refusal(error, "/blend") from None
        references = tuple(upload_reference(upload.url, upload.size) for upload in uploads)
        await start_prompts(
            interaction,
            runner,
            [prompt],
            text,
            mode=preferences.mode,
            kind=JobKind.BLEND,
            references=references,
        )


async def setup(bot: FeatureBot) -> None:
    await bot.add_cog(Blend(bot.deps))
