"""``/transfer``: a content image and a style image, each an upload or a link.

A slash option has one type, so each image has two options: ``content`` (an attachment) or
``content_url`` (a link), and ``style`` or ``style_url``; exactly one of each pair is
required. Quick checks answer at once and queue nothing; reading the images happens when the
job launches (the reference stage), where a broken link fails the job with the link named.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.deps import Deps
from bot.errors import UserError
from bot.jobs.references import SAME_IMAGES
from bot.jobs.runner import RESTARTING
from bot.jobs.spec import ReferenceSpec, Role
from bot.jobs.submit import submit_images_command
from bot.jobs.transfer import (
    LABEL,
    STRENGTH_DEFAULT,
    TransferOptions,
    pending_image,
    transfer_prompt,
    transfer_spec,
)
from bot.preferences import load_preferences
from db import JobKind

__all__ = ["TransferCommand"]


class TransferCommand(commands.Cog):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @app_commands.command(name="transfer", description="Restyle an image like another one")
    @app_commands.describe(
        content="The image to restyle (upload), or use content_url",
        style="The image whose style to copy (upload), or use style_url",
        content_url="Or: a link to the image to restyle",
        style_url="Or: a link to the style image",
        strength="How strongly the style applies, 0–1000 (default 100; 0: unchanged)",
        size="Long side of the result in pixels, 64–2048 (default: the content's)",
        preserve_colors="Keep the content's colours (copy only the style's light and texture)",
    )
    async def transfer(
        self,
        interaction: discord.Interaction[Any],
        content: discord.Attachment | None = None,
        style: discord.Attachment | None = None,
        content_url: str | None = None,
        style_url: str | None = None,
        strength: app_commands.Range[int, 0, 1000] = STRENGTH_DEFAULT,
        size: app_commands.Range[int, 64, 2048] | None = None,
        preserve_colors: bool = False,
    ) -> None:
        # 1. Quick checks, answered at once; nothing is queued on a refusal.
        runner = self.deps.runner
        if not runner.accepting:
            raise RESTARTING
        content_image, content_name = self._image("content", content, content_url)
        style_image, style_name = self._image("style", style, style_url)
        if content_image.url == style_image.url:  # the same upload or link twice
            raise UserError(SAME_IMAGES, title="Identical images")
        # Discord enforces the ranges in its client; checked again (never corrected).
        options = TransferOptions(strength, size, preserve_colors).check()
        # 2. Record, acknowledge, launch (the images are read when it launches).
        preferences = await load_preferences(self.deps.db, interaction.user.id)
        steps = self.deps.settings.mj_transfer_steps
        prompt = transfer_prompt(content_name, style_name)
        await submit_images_command(
            interaction,
            runner,
            kind=JobKind.TRANSFER,
            prompt=prompt,
            spec=transfer_spec(content_image, style_image, options, steps=steps),
            label=LABEL,
            mode=preferences.mode,
        )

    def _image(
        self, name: str, upload: discord.Attachment | None, link: str | None
    ) -> tuple[ReferenceSpec, str]:
        """The pending reference for one of the two images, and the name it is shown by."""
        role = Role.IMAGE if name == "content" else Role.STYLE
        most = self.deps.fetcher.limits.max_bytes
        return pending_image(
            "transfer", name, upload, link, role=role, max_bytes=most, what=f"{name} image"
        )
