"""Vary (Region) and Vary (Reference): a signed link to the web editor, and the job an editor
submission makes — the image repainted where the user's mask is white, from the prompt (Remix
may change it) or imitating a reference image (MimicBrush; ``bot.exts.region.reference``).
The editor also serves Change Background where no subject finder is configured: the user
selects the subject to keep (``background_link``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord.ext import commands
from PIL import Image
from sqlalchemy.exc import IntegrityError

from bot.deps import Deps, FeatureBot
from bot.errors import PromptRefusal, UserError
from bot.exts.region.reference import reference_job
from bot.exts.region.web.form import EditorForm
from bot.exts.region.web.server import EditorServer
from bot.exts.region.web.tokens import EditGrant, load_secret, sign
from bot.jobs import children
from bot.jobs.modes import job_mode
from bot.jobs.prompts import check_prompt
from bot.jobs.records import JobView
from bot.jobs.references import resolve_random_styles, reuse, wanted_references
from bot.jobs.runner import Submission
from bot.jobs.spec import JobSpec, ReferenceSpec, Role, SourceImage, StoredFile
from bot.jobs.structure import BACKGROUND_LABEL, background_spec
from bot.preferences import load_preferences
from bot.ui.custom_ids import ButtonId
from bot.ui.routing import Placement, Surface
from db import Job, JobKind, JobMode, QueueFullError
from engine.grid import encode_png

__all__ = ["RegionEditor", "setup"]

log = logging.getLogger(__name__)

ACTION = "vary_region"
REFERENCE_ACTION = "vary_reference"
UNAVAILABLE = (
    "The region editor is not available on this server right now (its web server did not "
    "start). Use Vary (Subtle) or Vary (Strong) for now."
)
QUEUE_FULL = "Your job queue is full. Wait for a job to finish, then submit again."
ALREADY_SUBMITTED = "This edit was already submitted — see Discord."


class RegionEditor(commands.Cog):
    """Owns the editor's web server: it listens while the feature is loaded."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        settings = deps.settings
        configured = settings.mj_secret.get_secret_value() if settings.mj_secret else None
        self.server = EditorServer(
            deps.db,
            deps.store,
            load_secret(configured, settings.mj_data_dir),
            settings.mj_web_host,
            settings.mj_web_port,
            on_submit=self.submit,
        )
        self.listening = False

    async def cog_load(self) -> None:
        settings = self.deps.settings
        try:
            await self.server.start()
        except OSError as error:
            log.error(
                "the region editor could not listen on %s:%d (%s); Vary (Region) is off. "
                "Set MJ_WEB_HOST/MJ_WEB_PORT.",
                settings.mj_web_host,
                settings.mj_web_port,
                error,
            )
            await self.server.close()
            return
        self.listening = True

    async def cog_unload(self) -> None:
        await self.server.close()
        self.listening = False

    @property
    def public_url(self) -> str:
        """Where users' browsers reach the editor (``MJ_PUBLIC_URL``, else the bound address)."""
        settings = self.deps.settings
        if settings.mj_public_url:
            return settings.mj_public_url.rstrip("/")
        return f"http://{settings.mj_web_host}:{self.server.port}"

    async def open_editor(self, interaction: discord.Interaction[Any], button: ButtonId) -> None:
        """Answer Vary (Region) with a private link to the editor for this image and user."""
        await self._send_link(interaction, button, reference=False)

    async def open_reference_editor(
        self, interaction: discord.Interaction[Any], button: ButtonId
    ) -> None:
        """Answer Vary (Reference) with a private link to the editor and its reference panel."""
        await self._send_link(interaction, button, reference=True)

    async def _send_link(
        self, interaction: discord.Interaction[Any], button: ButtonId, *, reference: bool
    ) -> None:
        if not self.listening:
            raise UserError(UNAVAILABLE)
        preferences = await load_preferences(self.deps.db, interaction.user.id)
        minutes = self.deps.settings.mj_edit_link_minutes
        grant = EditGrant.issue(
            button.job_id,
            button.index,
            interaction.user.id,
            remix=preferences.remix,
            reference=reference,
            ttl_s=minutes * 60,
        )
        if reference:
            what = (
                f"Select the parts of image #{button.index} to repaint and choose the reference "
                "to imitate there (an upload, a link or one of your images), then submit."
            )
        else:
            remix = " You can change the prompt there (Remix mode)." if preferences.remix else ""
            what = f"Select the parts of image #{button.index} to redraw, then submit.{remix}"
        await interaction.response.send_message(
            f"{what} {self.link_terms()}", view=self.link_view(grant), ephemeral=True
        )

    def reference_link(
        self, job_id: str, index: int, user_id: int, *, preset: int | None, keep_shape: bool
    ) -> discord.ui.View | None:
        """A Vary (Reference) editor link button for image ``index`` (1-based) of a job,
        offering its image ``preset`` as the reference (``/mimic`` without a mask); ``None``
        when the editor is not listening."""
        if not self.listening:
            return None
        minutes = self.deps.settings.mj_edit_link_minutes
        grant = EditGrant.issue(
            job_id,
            index,
            user_id,
            remix=False,
            reference=True,
            preset=preset,
            keep_shape=keep_shape,
            ttl_s=minutes * 60,
        )
        return self.link_view(grant)

    def background_link(self, job_id: str, index: int, user_id: int) -> discord.ui.View | None:
        """A Change Background editor link for image ``index`` (1-based) of a job: the user
        selects the subject to keep and writes the new background (``None`` when the editor
        is not listening)."""
        if not self.listening:
            return None
        minutes = self.deps.settings.mj_edit_link_minutes
        grant = EditGrant.issue(
            job_id, index, user_id, remix=True, background=True, ttl_s=minutes * 60
        )
        return self.link_view(grant)

    def link_terms(self) -> str:
        minutes = self.deps.settings.mj_edit_link_minutes
        return f"This link is yours and works once, for {minutes} minutes."

    def link_view(self, grant: EditGrant) -> discord.ui.View:
        url = f"{self.public_url}/edit/{sign(grant, self.server.secret)}"
        view = discord.ui.View()
        view.add_item(discord.ui.Button(label="Open the editor", emoji="🖌️", url=url))
        return view

    async def submit(
        self, grant: EditGrant, job: Job, mask: Image.Image, form: EditorForm
    ) -> tuple[int, str] | None:
        """Queue the job of an editor submission; ``(status, message)`` if refused."""
        deps = self.deps
        parent = JobView.of(job)
        if parent.parameters.spec is None:
            return 409, "That job cannot be edited."
        preferences = await load_preferences(deps.db, grant.user_id)
        if grant.background:
            return await self._background(grant, parent, mask, form.prompt)
        if grant.reference:
            made = await reference_job(deps, grant, parent, mask, form)
            if isinstance(made, tuple):
                return made
            return await self._queue(grant, parent, made, parent.prompt, preferences.mode)
        stored = await asyncio.to_thread(lambda: deps.store.put(encode_png(mask), "png"))
        child = children.region(parent, grant.index - 1, StoredFile(stored.path, stored.sha256))
        shown, mode = parent.prompt, preferences.mode
        text = " ".join(form.prompt.split())
        if grant.remix and text and text != parent.prompt:
            try:
                [prompt] = await check_prompt(
                    text, preferences, deps.checks, footer="", edited=True
                )
            except PromptRefusal as refusal:
                error = refusal.prompt_error
                return 400, f"{error.msg}\n{error.render()}"
            except UserError as refusal:
                return 400, refusal.message
            prompt = resolve_random_styles(prompt)
            references = reuse(wanted_references(prompt), parent.spec.references)
            child = children.remix(child, JobSpec.from_prompt(prompt), references)
            shown, mode = prompt.canonical, job_mode(prompt, mode)
        return await self._queue(grant, parent, child, shown, mode)

    async def _background(
        self, grant: EditGrant, parent: JobView, subject: Image.Image, text: str
    ) -> tuple[int, str] | None:
        """Change Background: the selection is the subject, the prompt the new background."""
        deps = self.deps
        preferences = await load_preferences(deps.db, grant.user_id)
        text = " ".join(text.split()) or parent.prompt
        try:
            [prompt] = await check_prompt(text, preferences, deps.checks, footer="", edited=True)
        except PromptRefusal as refusal:
            error = refusal.prompt_error
            return 400, f"{error.msg}\n{error.render()}"
        except UserError as refusal:
            return 400, refusal.message
        prompt = resolve_random_styles(prompt)
        stored = await asyncio.to_thread(lambda: deps.store.put(encode_png(subject), "png"))
        mask = ReferenceSpec(
            Role.IMAGE,
            file=StoredFile(stored.path, stored.sha256),
            width=subject.width,
            height=subject.height,
        )
        index = grant.index - 1
        spec = background_spec(prompt, SourceImage(parent.id, index), mask)
        child = children.Child(JobKind.BACKGROUND, BACKGROUND_LABEL, spec, index)
        mode = job_mode(prompt, preferences.mode)
        return await self._queue(grant, parent, child, prompt.canonical, mode)

    async def _queue(
        self, grant: EditGrant, parent: JobView, child: children.Child, shown: str, mode: JobMode
    ) -> tuple[int, str] | None:
        deps = self.deps
        submission = Submission(
            user_id=grant.user_id,
            channel_id=parent.channel_id,
            guild_id=parent.guild_id,
            kind=child.kind,
            prompt=shown,
            raw=parent.raw_prompt,
            spec=child.spec,
            mode=mode,
            label=child.label,
            parent_job_id=parent.id,
            parent_index=child.index,
            job_id=grant.region_job_id,
        )
        try:
            admission = await deps.runner.admit(submission)
        except QueueFullError:
            return 429, QUEUE_FULL
        except IntegrityError:  # the same link submitted twice at once: its job id is taken
            return 409, ALREADY_SUBMITTED
        except UserError as refusal:  # restarting
            return 503, refusal.message
        failed = await deps.runner.launch(admission.job.id)
        return (400, failed.message) if failed is not None else None


async def setup(bot: FeatureBot) -> None:
    editor = RegionEditor(bot.deps)
    await bot.add_cog(editor)
    placement = Placement(Surface.SINGLE, 0, 4, "Vary (Region)", "🖌️")
    bot.deps.routes.add_button(ACTION, editor.open_editor, placement)
    reference = Placement(Surface.SINGLE, 3, 0, "Vary (Reference)", "🖼️")
    bot.deps.routes.add_button(REFERENCE_ACTION, editor.open_reference_editor, reference)
