"""The ``/imagine`` command: parse, check, acknowledge, admit, and let the service run it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot import texts
from bot.convert import mode_of, version_key
from bot.errors import incident, prompt_error_embed, send_embed
from bot.jobspec import spec_from_prompt
from bot.preferences import load_preferences, parse_with_preferences
from bot.references import resolve_random_styles, wanted_references
from db import JobKind, JobMode, QueueFullError
from engine.errors import UnknownVersionError
from engine.scheduler import SpeedMode
from parser import Prompt, PromptError

if TYPE_CHECKING:
    from bot.service import JobService

__all__ = ["CONFIRM_ABOVE", "fetch_references", "imagine", "imagine_text", "start_jobs"]

log = logging.getLogger(__name__)

CONFIRM_ABOVE = 4
"""Permutation or --repeat prompts making more jobs than this ask for confirmation first."""
PROMPT_MAX = 6000


@app_commands.command(name="imagine", description="Create images from a prompt")
@app_commands.describe(prompt="What to imagine, with Midjourney's parameters (--ar 16:9 …)")
async def imagine(
    interaction: discord.Interaction[Any], prompt: app_commands.Range[str, 1, PROMPT_MAX]
) -> None:
    service: JobService = interaction.client.service
    try:
        await imagine_text(interaction, service, prompt)
    except Exception as error:
        await incident(interaction, error)


def restarting_embed() -> discord.Embed:
    return texts.error_embed(
        "Restarting", "The bot is restarting; try again in a minute.", warning=True
    )


async def imagine_text(
    interaction: discord.Interaction[Any], service: JobService, text: str
) -> None:
    """``/imagine text`` for any interaction (the command, a modal, a button)."""
    # 1. Quick checks that need no I/O, answered at once (well inside Discord's 3 s).
    if not service.accepting:
        await send_embed(interaction, restarting_embed())
        return
    footer = f"/imagine {text}"
    preferences = await load_preferences(service.db, interaction.user.id)
    try:
        prompts = parse_with_preferences(
            text, preferences, max_permutations=service.settings.mj_max_permutations
        )
    except PromptError as error:
        await send_embed(interaction, prompt_error_embed(error, footer))
        return
    phrase = service.banned.find(text)
    if phrase is not None:
        await send_embed(
            interaction,
            texts.error_embed(
                "Banned prompt detected", texts.BANNED.format(phrase=phrase), footer=footer
            ),
        )
        return
    for prompt in prompts:
        try:
            service.engine.catalog.key_for(version_key(prompt))
        except UnknownVersionError as error:
            await send_embed(
                interaction, texts.error_embed("Invalid parameter", str(error), footer=footer)
            )
            return
    jobs = [p for p in prompts for _ in range(p.params.repeat or 1)]
    mode = preferences.mode
    if len(jobs) > 1 and any(mode_of(p, SpeedMode(mode)) is SpeedMode.RELAX for p in jobs):
        await send_embed(
            interaction, texts.error_embed("Relax mode", texts.RELAX_MULTI, footer=footer)
        )
        return
    # 2. Many jobs: ask first. Otherwise acknowledge, then do the slower work.
    if len(jobs) > CONFIRM_ABOVE:
        view = ConfirmJobs(service, jobs, text, mode)
        await interaction.response.send_message(
            f"This prompt makes **{len(jobs)} jobs**. Start them all?", view=view, ephemeral=True
        )
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    await start_jobs(interaction, service, jobs, text, default_mode=mode)


async def start_jobs(
    interaction: discord.Interaction[Any],
    service: JobService,
    jobs: list[Prompt],
    raw: str | Sequence[str],
    *,
    kind: JobKind = JobKind.IMAGINE,
    references: list[dict[str, Any]] | None = None,
    default_mode: JobMode = JobMode.FAST,
) -> None:
    """Admit each job; tell the user only what needs telling (queued, full, bad link).
    ``raw`` is the text the user typed: one for all jobs, or one per job. ``references``
    are already stored images (``/blend``); otherwise the prompts' URLs are fetched."""
    notes: list[discord.Embed] = []
    raws = [raw] * len(jobs) if isinstance(raw, str) else list(raw)
    for prompt, job_raw in zip(jobs, raws, strict=True):
        prompt = resolve_random_styles(prompt)
        spec = spec_from_prompt(prompt)
        fetched = references
        if fetched is None:
            result = await fetch_references(service, prompt)
            if isinstance(result, discord.Embed):
                notes.append(result)
                break
            fetched = result
        spec["references"] = fetched
        try:
            admission = await service.enqueue(
                user_id=interaction.user.id,
                channel_id=interaction.channel_id or 0,
                guild_id=interaction.guild_id,
                kind=kind,
                prompt=prompt.canonical,
                raw=job_raw,
                spec=spec,
                mode=JobMode(str(mode_of(prompt, SpeedMode(default_mode)))),
                upload_limit=interaction.filesize_limit,
            )
        except QueueFullError:
            notes.append(
                texts.error_embed("Queue full", texts.QUEUE_FULL, footer=f"/imagine {job_raw}")
            )
            break
        if admission.held and not notes:
            notes.append(texts.error_embed("Job queued", texts.JOB_QUEUED, warning=True))
    if notes:
        await interaction.edit_original_response(content=None, embeds=notes[:10], view=None)
    else:
        await interaction.delete_original_response()


async def fetch_references(
    service: JobService, prompt: Prompt, known: Sequence[dict[str, Any]] = ()
) -> list[dict[str, Any]] | discord.Embed:
    """Download the prompt's image URLs once and keep them with the job (restarts and
    buttons never download again); a bad link is an ``Invalid link`` embed naming it.
    The same URL twice in one prompt is downloaded once; ``known`` references (a parent
    job's) are reused by URL."""
    from bot.fetch import FetchError

    references: list[dict[str, Any]] = []
    fetched_urls: dict[str, dict[str, Any]] = {
        entry["url"]: {k: entry[k] for k in ("url", "path", "sha256", "width", "height")}
        for entry in known
        if entry.get("url") and entry.get("path")
    }
    for wanted in wanted_references(prompt):
        entry: dict[str, Any] = {"role": wanted.role, "weight": wanted.weight}
        if wanted.url is None:
            references.append({**entry, "code": wanted.code})
            continue
        if wanted.url not in fetched_urls:
            try:
                fetched = await service.fetcher.fetch_image(wanted.url)
            except FetchError as error:
                return texts.error_embed("Invalid link", f"Could not use {error}")
            stored = await asyncio.to_thread(service.store.put, fetched.data, fetched.format)
            fetched_urls[wanted.url] = {
                "url": wanted.url,
                "path": stored.path,
                "sha256": stored.sha256,
                "width": fetched.width,
                "height": fetched.height,
            }
        references.append({**entry, **fetched_urls[wanted.url]})
    return references


class ConfirmJobs(discord.ui.View):
    """Yes/No before starting many jobs (ephemeral, short-lived: not persisted)."""

    def __init__(self, service: JobService, jobs: list[Prompt], raw: str, mode: JobMode) -> None:
        super().__init__(timeout=300)
        self.service = service
        self.jobs = jobs
        self.raw = raw
        self.mode = mode

    @discord.ui.button(label="Yes", style=discord.ButtonStyle.success)
    async def yes(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        self.stop()
        await interaction.response.edit_message(
            content=f"Starting {len(self.jobs)} jobs…", view=None
        )
        await start_jobs(interaction, self.service, self.jobs, self.raw, default_mode=self.mode)

    @discord.ui.button(label="No", style=discord.ButtonStyle.danger)
    async def no(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        self.stop()
        await interaction.response.edit_message(
            content="Cancelled; nothing was started.", view=None
        )
