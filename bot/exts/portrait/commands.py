"""``/portrait train|list|forget|imagine``: portraits of yourself from a few photos.

``train`` reads and checks each photo first (a verdict per photo, answered only to you), then —
with at least three kept — records and launches a training job like any other (the fair
queue, your limits, ❌, progress with the aligned crops). The photos are checked before the
job exists, so a crash while checking loses the command (the answer stays "thinking…");
once the verdicts are shown the job is recorded. ``imagine`` is an imagine job about the
person (``bot.jobs.portraits``); ``forget`` deletes the portrait's files and rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.deps import Deps
from bot.errors import UserError
from bot.exts.portrait.photos import CheckedPhoto, check_photos, verdicts_text
from bot.jobs.portraits import (
    LABEL,
    MIN_PHOTOS,
    TRAINING_LABEL,
    checked_name,
    portraits_spec,
    training_prompt,
    training_spec,
)
from bot.jobs.prompts import check_one_prompt
from bot.jobs.references import wanted_references
from bot.jobs.runner import RESTARTING, Submission
from bot.jobs.submit import reply_handle, submit
from bot.preferences import load_preferences
from db import JobKind, QueueFullError
from db import portraits as portraits_db
from db.models import Portrait
from engine.errors import InvalidRequestError, ModelLoadError, UnknownVersionError
from engine.models import closed_vocabulary
from engine.portrait.styles import PortraitStyle, find_style, load_styles

__all__ = ["PortraitCommands"]

PROMPT_MAX = 4000
INVALID = "Invalid parameter"


class PortraitCommands(
    commands.GroupCog, group_name="portrait", group_description="Portraits of you from photos"
):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        super().__init__()

    # -- train -------------------------------------------------------------------------------

    @app_commands.command(name="train", description="Teach the bot your face from 3–10 photos")
    @app_commands.describe(
        photo1="A photo of you alone, face clearly visible",
        photo2="Another photo of you (different light, angle, day)",
        photo3="Another photo of you",
        name="What to call this portrait (default: me)",
    )
    async def train(
        self,
        interaction: discord.Interaction[Any],
        photo1: discord.Attachment,
        photo2: discord.Attachment,
        photo3: discord.Attachment,
        photo4: discord.Attachment | None = None,
        photo5: discord.Attachment | None = None,
        photo6: discord.Attachment | None = None,
        photo7: discord.Attachment | None = None,
        photo8: discord.Attachment | None = None,
        photo9: discord.Attachment | None = None,
        photo10: discord.Attachment | None = None,
        name: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        runner = self.deps.runner
        if not runner.accepting:
            raise RESTARTING
        portrait = checked_name(name)
        preferences = await load_preferences(self.deps.db, interaction.user.id)
        self._check_model(preferences.version)
        given = [photo1, photo2, photo3, photo4, photo5, photo6, photo7, photo8, photo9, photo10]
        uploads = [photo for photo in given if photo is not None]
        await interaction.response.defer(ephemeral=True, thinking=True)
        checked = await check_photos(uploads, runner.references)
        kept = [photo for photo in checked if photo.kept]
        await self._discard([photo for photo in checked if not photo.kept])
        if len(kept) < MIN_PHOTOS:
            note = (
                f"{len(kept)} of your photos can be learned from; at least {MIN_PHOTOS} are "
                "needed (you alone, face clearly visible). Nothing was queued."
            )
            await self._discard(kept)
            await self._answer(interaction, checked, "Not enough usable photos", note, red=True)
            return
        spec = training_spec(
            interaction.user.id,
            portrait,
            tuple(photo.file for photo in kept if photo.file is not None),
            steps=self.deps.settings.mj_portrait_steps,
            version=preferences.version,
        )
        echo = training_prompt(portrait, len(kept))
        submission = Submission(
            user_id=interaction.user.id,
            channel_id=interaction.channel_id or 0,
            guild_id=interaction.guild_id,
            kind=JobKind.TRAINING,
            prompt=echo,
            raw=echo,
            spec=spec,
            mode=preferences.mode,
            label=TRAINING_LABEL,
            upload_limit=interaction.filesize_limit,
            reply=reply_handle(interaction),
        )
        try:
            admission = await runner.admit(submission)
        except QueueFullError:
            note = "Your queue is full; wait for a job to finish, then train again."
            await self._discard(kept)
            await self._answer(interaction, checked, "Queue full", note, red=True)
            return
        note = (
            f"Learning **{portrait}** from {len(kept)} photos: the progress is in the channel. "
            f"Then: `/portrait imagine name:{portrait}`."
        )
        await self._answer(interaction, checked, "Training queued", note)
        refusal = await runner.launch(admission.job.id)
        if refusal is not None:
            await interaction.followup.send(embed=refusal.embed(), ephemeral=True)

    async def _discard(self, photos: list[CheckedPhoto]) -> None:
        """Delete stored photos no job will learn from (unless something else uses them)."""
        for photo in photos:
            if photo.file is None:
                continue
            async with self.deps.db.read() as session:
                used = await portraits_db.file_in_use(session, photo.file.sha256)
            if not used:
                await asyncio.to_thread(self.deps.store.remove, photo.file.path)

    def _check_model(self, version: str | None) -> None:
        try:
            source = self.deps.engine.catalog.source_for(version)
        except UnknownVersionError as error:  # the catalog names the choices
            raise UserError(str(error), title=INVALID) from None
        if closed_vocabulary(source):
            raise UserError(
                f"This server's model ({source}) draws only shapes, not people: an admin sets "
                "MJ_MODEL to a model that draws people for portraits.",
                title="Portraits unavailable",
            )

    @staticmethod
    async def _answer(
        interaction: discord.Interaction[Any],
        checked: list[CheckedPhoto],
        title: str,
        note: str,
        *,
        red: bool = False,
    ) -> None:
        colour = discord.Colour.red() if red else discord.Colour.green()
        embed = discord.Embed(title=title, description=note, colour=colour)
        embed.add_field(name="Photos", value=verdicts_text(checked)[:1024], inline=False)
        await interaction.edit_original_response(content=None, embed=embed)

    # -- list and forget ---------------------------------------------------------------------

    @app_commands.command(name="list", description="Your portraits")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        async with self.deps.db.read() as session:
            rows = await portraits_db.list_portraits(session, interaction.user.id)
        if not rows:
            text = "You have no portraits yet: `/portrait train` with 3–10 photos of yourself."
        else:
            text = "\n".join(_listed(row) for row in rows)
        embed = discord.Embed(title="Your portraits", description=text)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="forget", description="Delete a portrait: its LoRA and photos")
    @app_commands.describe(name="The portrait to delete (default: me)")
    async def forget(
        self,
        interaction: discord.Interaction[Any],
        name: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        portrait = checked_name(name)
        user_id = interaction.user.id
        if await self._training(user_id, portrait):
            raise UserError(
                f"**{portrait}** is still being learned: stop it with ❌ first.", title="Busy"
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self.deps.db.session() as session:
            forgotten = await portraits_db.forget_portrait(session, user_id, portrait)
        folder = self.deps.settings.portrait_dir / str(user_id) / portrait
        existed = folder.is_dir()
        await asyncio.to_thread(shutil.rmtree, folder, True)
        store = self.deps.store
        for path, _ in forgotten.files:
            await asyncio.to_thread(store.remove, path)
        if not (forgotten.found or existed or forgotten.jobs):
            text = f"You have no portrait named **{portrait}**."
        else:
            text = (
                f"Forgot **{portrait}**: its face LoRA, your photos and their crops "
                f"({len(forgotten.files)} files, {forgotten.jobs} training jobs) are deleted."
            )
        await interaction.edit_original_response(content=text)

    async def _training(self, user_id: int, name: str) -> bool:
        async with self.deps.db.read() as session:
            return await portraits_db.is_training(session, user_id, name)

    # -- imagine -----------------------------------------------------------------------------

    @app_commands.command(name="imagine", description="Portraits of you, in a style")
    @app_commands.describe(
        prompt="Where and how (our prompt language: --ar, --seed, --no …)",
        style="A portrait style (a template and/or a LoRA)",
        name="Which of your portraits (default: me)",
    )
    async def imagine(
        self,
        interaction: discord.Interaction[Any],
        prompt: app_commands.Range[str, 1, PROMPT_MAX],
        style: str | None = None,
        name: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        runner = self.deps.runner
        if not runner.accepting:
            raise RESTARTING
        portrait = checked_name(name)
        user_id = interaction.user.id
        async with self.deps.db.read() as session:
            row = await portraits_db.get_portrait(session, user_id, portrait)
        folder = self.deps.settings.portrait_dir / str(user_id) / portrait
        if row is None or not (folder / "lora.safetensors").is_file():
            raise UserError(
                f"You have no portrait named **{portrait}**: `/portrait train` first.",
                title=INVALID,
            )
        footer = f"/portrait imagine {prompt}"
        preferences = await load_preferences(self.deps.db, user_id)
        chosen = await check_one_prompt(prompt, preferences, self.deps.checks, footer=footer)
        found = await self._style(style, footer)
        spec = portraits_spec(
            chosen,
            user_id,
            portrait,
            style=found,
            candidates=self.deps.settings.mj_portrait_candidates,
            references=wanted_references(chosen),
            version=self._version_for(row, chosen.params.version, footer),
        )
        submission = Submission(
            user_id=user_id,
            channel_id=interaction.channel_id or 0,
            guild_id=interaction.guild_id,
            kind=JobKind.PORTRAIT,
            prompt=chosen.canonical,
            raw=prompt,
            spec=spec,
            mode=preferences.mode,
            label=f"{LABEL} ({found.name})" if found is not None else LABEL,
            upload_limit=interaction.filesize_limit,
            reply=reply_handle(interaction),
        )

        async def think() -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)

        await submit(interaction, runner, [submission], acknowledge=think, replace_answer=True)

    async def _style(self, name: str | None, footer: str) -> PortraitStyle | None:
        if not name:
            return None
        try:
            styles = await asyncio.to_thread(load_styles, self.deps.settings.lora_dir)
            return find_style(styles, name)
        except (InvalidRequestError, ModelLoadError) as error:
            raise UserError(str(error), title=INVALID, footer=footer) from None

    def _version_for(self, row: Portrait, asked: str | None, footer: str) -> str | None:
        """The catalog key of the model the portrait was learned on (the LoRA fits no other)."""
        catalog = self.deps.engine.catalog
        if asked is not None:
            if catalog.sources.get(catalog.key_for(asked)) != row.base_model:
                raise UserError(
                    f"**{row.name}** was learned on {row.base_model}; --v {asked} is another "
                    "model. Leave --v out.",
                    title=INVALID,
                    footer=footer,
                )
            return asked
        if catalog.source_for(None) == row.base_model:
            return None
        for key, source in catalog.sources.items():
            if source == row.base_model:
                return key
        raise UserError(
            f"**{row.name}** was learned on {row.base_model}, which this server no longer has: "
            "train it again.",
            title=INVALID,
            footer=footer,
        )

    @imagine.autocomplete("style")
    async def _styles(
        self, interaction: discord.Interaction[Any], typed: str
    ) -> list[app_commands.Choice[str]]:
        try:
            styles = await asyncio.to_thread(load_styles, self.deps.settings.lora_dir)
        except ModelLoadError:
            return []
        wanted = typed.strip().casefold()
        return [
            app_commands.Choice(name=_choice(style), value=style.name)
            for style in styles.values()
            if wanted in style.name.casefold()
        ][:25]


def _choice(style: PortraitStyle) -> str:
    text = f"{style.name} — {style.description}" if style.description else style.name
    return text[:100]


def _listed(row: Portrait) -> str:
    created = row.created_at
    if created.tzinfo is None:  # SQLite hands back naive UTC times
        created = created.replace(tzinfo=dt.UTC)
    when = discord.utils.format_dt(created, "R")
    return (
        f"**{row.name}** — {len(row.photos)} photos, {row.steps} steps on {row.base_model} "
        f"{when}".rstrip()
    )
