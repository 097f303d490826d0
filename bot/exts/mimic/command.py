"""``/mimic``: an image (upload or link), a mask (an upload, white = repaint) and a reference
image (upload or link).

A slash option has one type, so the image and the reference each have two options: ``image``
(an attachment) or ``image_url`` (a link), and ``reference`` or ``reference_url``; exactly one
of each pair is required. Without a mask the answer links to the region editor for the image
(``bot.exts.mimic.editor``). Quick checks answer at once and queue nothing; reading the images
happens when the job launches (the reference stage), where a broken link fails the job with
the link named, and what the engine refuses (a mask of another size than the image, an empty
mask, a mask over everything) fails the job with the engine's reason.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.deps import Deps
from bot.errors import UserError
from bot.exts.mimic.editor import open_editor
from bot.jobs.mimic import LABEL, mimic_prompt, mimic_spec
from bot.jobs.references import SAME_MIMIC_IMAGES
from bot.jobs.runner import RESTARTING
from bot.jobs.spec import ReferenceSpec, Role
from bot.jobs.submit import submit_images_command
from bot.jobs.transfer import pending_image, pending_upload
from bot.preferences import load_preferences
from db import JobKind

__all__ = ["SAME_MASK", "MimicCommand"]
SAME_MASK = (
    "The mask is the same upload as the {other}; attach a separate black-and-white mask "
    "(white = repaint)."
)


class MimicCommand(commands.Cog):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @app_commands.command(name="mimic", description="Repaint a region of an image like a reference")
    @app_commands.describe(
        mask="Where to repaint (upload, white = repaint); leave it out to draw it in the editor",
        image="The image to edit (upload), or use image_url",
        reference="The image to imitate in the region (upload), or use reference_url",
        image_url="Or: a link to the image to edit",
        reference_url="Or: a link to the reference image",
        keep_shape="Keep the region's shapes (depth) and repaint only its look (default: off)",
    )
    async def mimic(
        self,
        interaction: discord.Interaction[Any],
        mask: discord.Attachment | None = None,
        image: discord.Attachment | None = None,
        reference: discord.Attachment | None = None,
        image_url: str | None = None,
        reference_url: str | None = None,
        keep_shape: bool = False,
    ) -> None:
        # 1. Quick checks, answered at once; nothing is queued on a refusal.
        runner = self.deps.runner
        if not runner.accepting:
            raise RESTARTING
        source, source_name = self._image("image", image, image_url)
        wanted, wanted_name = self._image("reference", reference, reference_url)
        if source.url == wanted.url:  # the same upload or link twice
            raise UserError(SAME_MIMIC_IMAGES, title="Identical images")
        prompt = mimic_prompt(source_name, wanted_name)
        if mask is None:  # the region is drawn in the editor
            await open_editor(
                self.deps, interaction, source, wanted, prompt=prompt, keep_shape=keep_shape
            )
            return
        region = self._upload("mask", mask)
        for other, given in (("image", source), ("reference", wanted)):
            if region.url == given.url:
                raise UserError(SAME_MASK.format(other=other), title="Identical images")
        # 2. Record, acknowledge, launch (the images are read when it launches).
        preferences = await load_preferences(self.deps.db, interaction.user.id)
        await submit_images_command(
            interaction,
            runner,
            kind=JobKind.MIMIC,
            prompt=prompt,
            spec=mimic_spec(source, region, wanted, keep_shape=keep_shape),
            label=LABEL,
            mode=preferences.mode,
        )

    def _image(
        self, name: str, upload: discord.Attachment | None, link: str | None
    ) -> tuple[ReferenceSpec, str]:
        """The pending image or reference, and the name it is shown by."""
        most = self.deps.fetcher.limits.max_bytes
        return pending_image("mimic", name, upload, link, role=Role.IMAGE, max_bytes=most)

    def _upload(self, name: str, upload: discord.Attachment) -> ReferenceSpec:
        """An attached image, pending (read from Discord when the job launches)."""
        return pending_upload(name, upload, Role.IMAGE, self.deps.fetcher.limits.max_bytes)
