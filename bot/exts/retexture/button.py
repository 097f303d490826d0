"""Retexture and Change Background under a single image: a form asks for the prompt (filled
with the image's own) — and for Retexture the structure and strength — then the image is
redrawn as a new 2×2 grid."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

import discord
from discord.ext import commands

from bot.deps import Deps
from bot.errors import UserError
from bot.jobs.modes import job_mode
from bot.jobs.prompts import check_one_prompt
from bot.jobs.records import JobView, load_job
from bot.jobs.runner import RESTARTING, Submission
from bot.jobs.spec import SourceImage
from bot.jobs.structure import (
    BACKGROUND_LABEL,
    NO_SEGMENTER,
    RETEXTURE_LABEL,
    STRENGTH_DEFAULT,
    STRENGTH_RANGE,
    background_spec,
    parse_structure,
    retexture_spec,
)
from bot.jobs.submit import submit
from bot.jobs.transfer import parse_number
from bot.preferences import load_preferences
from bot.ui.custom_ids import ButtonId, FormId
from db import Job, JobKind

__all__ = ["BACKGROUND", "RETEXTURE", "StructureButtons"]

RETEXTURE = "retexture"
"""The Retexture button's action and its form's kind."""
BACKGROUND = "background"
PROMPT_FIELD = "prompt"
STRUCTURE_FIELD = "structure"
STRENGTH_FIELD = "strength"
FORM_LIFETIME_S = 15 * 60
PROMPT_MAX = 4000
NOT_AVAILABLE = "That image is not available."
EDITOR_COG = "RegionEditor"
"""The region feature's cog: its editor lets the user select the subject."""


def structure_form(form: FormId, prompt: str) -> discord.ui.Modal:
    retexture = form.kind == RETEXTURE
    title = RETEXTURE_LABEL if retexture else BACKGROUND_LABEL
    modal = discord.ui.Modal(title=title, custom_id=str(form), timeout=FORM_LIFETIME_S)
    modal.add_item(
        discord.ui.TextInput(
            label="The new look" if retexture else "The new background",
            custom_id=PROMPT_FIELD,
            style=discord.TextStyle.paragraph,
            default=prompt[:PROMPT_MAX],
            max_length=PROMPT_MAX,
        )
    )
    if retexture:
        modal.add_item(
            discord.ui.TextInput(
                label="Keep: edges, depth or sketch",
                custom_id=STRUCTURE_FIELD,
                default="edges",
                max_length=10,
                required=False,
            )
        )
        low, high = STRENGTH_RANGE
        modal.add_item(
            discord.ui.TextInput(
                label=f"Strength ({low}–{high}: how tightly)",
                custom_id=STRENGTH_FIELD,
                default=str(STRENGTH_DEFAULT),
                max_length=4,
                required=False,
            )
        )
    return modal


class SubjectEditor(Protocol):
    """What Change Background needs of the region feature's cog."""

    def background_link(self, job_id: str, index: int, user_id: int) -> discord.ui.View | None: ...

    def link_terms(self) -> str: ...


class StructureButtons:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def open_retexture(self, interaction: discord.Interaction[Any], button: ButtonId) -> None:
        await self._open(interaction, button, RETEXTURE)

    async def open_background(
        self, interaction: discord.Interaction[Any], button: ButtonId
    ) -> None:
        await self._open(interaction, button, BACKGROUND)

    async def _open(
        self, interaction: discord.Interaction[Any], button: ButtonId, kind: str
    ) -> None:
        if kind == BACKGROUND and self.deps.settings.mj_segmenter in ("", "none"):
            await self._subject_in_editor(interaction, button)
            return
        job = await self._job(button.job_id, button.index)
        form = FormId(kind, job.id, button.index)
        await interaction.response.send_modal(structure_form(form, job.raw_prompt or job.prompt))

    async def _subject_in_editor(
        self, interaction: discord.Interaction[Any], button: ButtonId
    ) -> None:
        """No subject finder: a link to the region editor, where the user selects the subject
        (the region feature's cog, found by name: either feature works without the other)."""
        await self._job(button.job_id, button.index)
        client = self.deps.client
        found = client.get_cog(EDITOR_COG) if isinstance(client, commands.Bot) else None
        editor = cast("SubjectEditor | None", found)
        if editor is None:
            raise NO_SEGMENTER
        view = editor.background_link(button.job_id, button.index, interaction.user.id)
        if view is None:
            raise NO_SEGMENTER
        await interaction.response.send_message(
            f"Select the subject of image #{button.index} to keep and describe the new "
            f"background, then submit. {editor.link_terms()}",
            view=view,
            ephemeral=True,
        )

    async def submit_form(
        self, interaction: discord.Interaction[Any], form: FormId, values: Mapping[str, str]
    ) -> None:
        runner = self.deps.runner
        if not runner.accepting:
            raise RESTARTING
        retexture = form.kind == RETEXTURE
        text = values.get(PROMPT_FIELD, "").strip()
        footer = f"{RETEXTURE_LABEL if retexture else BACKGROUND_LABEL}: {text}"
        if not text:
            raise UserError("The prompt is empty.", title="Invalid parameter")
        preferences = await load_preferences(self.deps.db, interaction.user.id)
        prompt = await check_one_prompt(text, preferences, self.deps.checks, footer=footer)
        parent = JobView.of(await self._job(form.job_id, form.index))
        image = SourceImage(parent.id, form.index - 1)
        if retexture:
            structure = parse_structure(values.get(STRUCTURE_FIELD, ""))
            strength_text = values.get(STRENGTH_FIELD, "").strip() or str(STRENGTH_DEFAULT)
            strength = parse_number("strength", strength_text, STRENGTH_RANGE)
            spec = retexture_spec(prompt, image, structure, strength)
        else:
            spec = background_spec(prompt, image)
        submission = Submission(
            user_id=interaction.user.id,
            channel_id=interaction.channel_id or parent.channel_id,
            guild_id=interaction.guild_id,
            kind=JobKind.RETEXTURE if retexture else JobKind.BACKGROUND,
            prompt=prompt.canonical,
            raw=text,
            spec=spec,
            mode=job_mode(prompt, preferences.mode),
            label=RETEXTURE_LABEL if retexture else BACKGROUND_LABEL,
            parent_job_id=parent.id,
            parent_index=image.index,
            upload_limit=interaction.filesize_limit,
        )
        await submit(
            interaction, runner, [submission], acknowledge=interaction.response.defer,
            replace_answer=False,
        )  # fmt: skip

    async def _job(self, job_id: str, number: int) -> Job:
        job = await load_job(self.deps.db, job_id, with_images=True)
        if not any(image.index == number - 1 for image in job.images):
            raise UserError(NOT_AVAILABLE)
        return job
