"""``/retexture`` and ``/background``: an upload or a link redrawn from a prompt, keeping its
structure (Retexture) or its subject (Change Background).

Quick checks answer at once and queue nothing (which image option, the prompt, the numbers);
the image is read when the job launches, where a broken link fails the job with it named.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.deps import Deps
from bot.jobs.modes import job_mode
from bot.jobs.prompts import check_one_prompt
from bot.jobs.runner import RESTARTING, Submission
from bot.jobs.spec import JobSpec, ReferenceSpec, Role
from bot.jobs.structure import (
    BACKGROUND_LABEL,
    NO_SEGMENTER,
    RETEXTURE_LABEL,
    STRENGTH_DEFAULT,
    STRUCTURES,
    background_spec,
    retexture_spec,
)
from bot.jobs.submit import reply_handle, submit
from bot.jobs.transfer import pending_image, pending_upload
from bot.preferences import load_preferences
from db import JobKind
from engine.request import StructureKind
from parser import Prompt

__all__ = ["StructureCommands"]

PROMPT_MAX = 4000
STRUCTURE_CHOICES = [
    app_commands.Choice(name=text, value=str(kind)) for kind, text in STRUCTURES.items()
]


class StructureCommands(commands.Cog):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @app_commands.command(name="retexture", description="Redraw an image, keeping its structure")
    @app_commands.describe(
        prompt="The new look, in our prompt language",
        image="The image (upload), or use image_url",
        image_url="Or: a link to the image",
        structure="What to keep (default: edges)",
        strength="How tightly the structure is followed, 0–100 (default 50)",
    )
    @app_commands.choices(structure=STRUCTURE_CHOICES)
    async def retexture(
        self,
        interaction: discord.Interaction[Any],
        prompt: app_commands.Range[str, 1, PROMPT_MAX],
        image: discord.Attachment | None = None,
        image_url: str | None = None,
        structure: str = str(StructureKind.EDGES),
        strength: app_commands.Range[int, 0, 100] = STRENGTH_DEFAULT,
    ) -> None:
        source = self._image("retexture", image, image_url)
        parsed = await self._prompt(interaction, f"/retexture {prompt}", prompt)
        spec = retexture_spec(parsed, source, StructureKind(structure), strength)
        await self._submit(interaction, JobKind.RETEXTURE, RETEXTURE_LABEL, parsed, prompt, spec)

    @app_commands.command(name="background", description="Keep the subject, change the rest")
    @app_commands.describe(
        prompt="The new background, in our prompt language",
        image="The image (upload), or use image_url",
        image_url="Or: a link to the image",
        mask="Optional: the subject (a PNG of the image's size, white = keep)",
    )
    async def background(
        self,
        interaction: discord.Interaction[Any],
        prompt: app_commands.Range[str, 1, PROMPT_MAX],
        image: discord.Attachment | None = None,
        image_url: str | None = None,
        mask: discord.Attachment | None = None,
    ) -> None:
        source = self._image("background", image, image_url)
        if mask is None and self.deps.settings.mj_segmenter in ("", "none"):
            raise NO_SEGMENTER
        subject = None
        if mask is not None:
            most = self.deps.fetcher.limits.max_bytes
            subject = pending_upload("mask", mask, Role.IMAGE, most)
        parsed = await self._prompt(interaction, f"/background {prompt}", prompt)
        spec = background_spec(parsed, source, subject)
        await self._submit(interaction, JobKind.BACKGROUND, BACKGROUND_LABEL, parsed, prompt, spec)

    def _image(
        self, command: str, upload: discord.Attachment | None, link: str | None
    ) -> ReferenceSpec:
        if not self.deps.runner.accepting:
            raise RESTARTING
        most = self.deps.fetcher.limits.max_bytes
        reference, _ = pending_image(
            command, "image", upload, link, role=Role.IMAGE, max_bytes=most
        )
        return reference

    async def _prompt(
        self, interaction: discord.Interaction[Any], footer: str, text: str
    ) -> Prompt:
        preferences = await load_preferences(self.deps.db, interaction.user.id)
        return await check_one_prompt(text, preferences, self.deps.checks, footer=footer)

    async def _submit(
        self,
        interaction: discord.Interaction[Any],
        kind: JobKind,
        label: str,
        prompt: Prompt,
        raw: str,
        spec: JobSpec,
    ) -> None:
        preferences = await load_preferences(self.deps.db, interaction.user.id)
        submission = Submission(
            user_id=interaction.user.id,
            channel_id=interaction.channel_id or 0,
            guild_id=interaction.guild_id,
            kind=kind,
            prompt=prompt.canonical,
            raw=raw,
            spec=spec,
            mode=job_mode(prompt, preferences.mode),
            label=label,
            upload_limit=interaction.filesize_limit,
            reply=reply_handle(interaction),
        )

        async def think() -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)

        await submit(
            interaction, self.deps.runner, [submission], acknowledge=think, replace_answer=True
        )
