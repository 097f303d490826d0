"""``/describe``: an image (upload or link) → four prompts, with buttons to imagine them.

The image and the prompts are recorded as a ``describe`` job (done at once, outside the GPU
queue), so 1️⃣–4️⃣, 🔄 and 🎉 work on old messages and after restarts.
"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot import texts
from bot.buttons import JobButton
from bot.commands import start_jobs
from bot.custom_ids import Action, ButtonId
from bot.errors import incident, job_or_reply, send_embed
from bot.fetch import FetchError, decode_image
from bot.modals import prompt_modal
from bot.preferences import load_preferences, parse_with_preferences
from bot.uploads import read_upload, stored_entry
from db import JobKind, NewJob
from db import jobs as repo
from engine import EngineError
from engine.request import random_seed
from parser import PromptError

if TYPE_CHECKING:
    from bot.service import JobService

__all__ = ["describe", "describe_view", "handle_describe_button"]

log = logging.getLogger(__name__)

NUMBERS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣")
EMBED_DESCRIPTION_MAX = 4096


@app_commands.command(
    name="describe", description="Writes four example prompts based on an image you upload"
)
@app_commands.describe(image="The image to describe", link="Or: a link to the image")
async def describe(
    interaction: discord.Interaction[Any],
    image: discord.Attachment | None = None,
    link: str | None = None,
) -> None:
    service: JobService = interaction.client.service
    try:
        await _describe(interaction, service, image, link)
    except Exception as error:
        await incident(interaction, error)


async def _describe(
    interaction: discord.Interaction[Any],
    service: JobService,
    upload: discord.Attachment | None,
    link: str | None,
) -> None:
    if (upload is None) == (link is None or not link.strip()):
        await send_embed(
            interaction,
            texts.error_embed(
                "Invalid parameter",
                "Give /describe one image: attach it (image) or link it (link).",
            ),
        )
        return
    await interaction.response.defer(thinking=True)
    try:
        if upload is not None:
            fetched = await read_upload(upload, service.fetcher.limits)
        else:
            assert link is not None  # noqa: S101 - one of the two, checked above
            fetched = await service.fetcher.fetch_image(link.strip())
    except FetchError as error:
        title = "Invalid image" if upload is not None else "Invalid link"
        await interaction.edit_original_response(
            embed=texts.error_embed(title, f"Could not use {error}")
        )
        return
    entry = await stored_entry(service.store, fetched)
    await _run(interaction, service, entry, fetched.data, seed=0, parent_id=None)


async def _run(
    interaction: discord.Interaction[Any],
    service: JobService,
    entry: dict[str, Any],
    data: bytes,
    *,
    seed: int,
    parent_id: str | None,
) -> None:
    """Describe the stored image (``data``: its bytes), record the job, and answer with the
    prompts and buttons (the interaction is deferred: the answer replaces the "thinking"
    message)."""
    picture = await asyncio.to_thread(decode_image, data)
    try:
        prompts = await service.describer.describe_async(picture, seed=seed)
    except EngineError as error:
        log.warning("describe failed: %s", error)
        await interaction.edit_original_response(
            embed=texts.error_embed("Describe failed", str(error))
        )
        return
    job_id = str(uuid.uuid4())
    async with service.db.session() as session:
        await repo.record_instant_job(
            session,
            NewJob(
                id=job_id,
                user_id=interaction.user.id,
                kind=JobKind.DESCRIBE,
                prompt=entry["url"],
                raw_prompt=entry["url"],
                parameters={"describe": {"prompts": prompts, "image": entry, "seed": seed}},
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id,
                parent_job_id=parent_id,
            ),
        )
    name = f"describe_{job_id[:8]}.{entry['path'].rsplit('.', 1)[-1]}"
    embed = discord.Embed(description=_numbered(prompts), colour=0x5865F2)
    embed.set_image(url=f"attachment://{name}")
    message = await interaction.edit_original_response(
        embed=embed,
        attachments=[discord.File(io.BytesIO(data), filename=name)],
        view=describe_view(job_id),
    )
    async with service.db.session() as session:
        await repo.set_messages(session, job_id, result=message.id)


def _numbered(prompts: list[str]) -> str:
    text = "\n\n".join(f"{n} {p}" for n, p in zip(NUMBERS, prompts, strict=False))
    return text[:EMBED_DESCRIPTION_MAX]


def describe_view(job_id: str) -> discord.ui.View:
    """1️⃣ 2️⃣ 3️⃣ 4️⃣ 🔄 / 🎉 Imagine all."""
    view = discord.ui.View(timeout=None)
    for index, emoji in enumerate(NUMBERS, 1):
        view.add_item(JobButton(ButtonId(Action.DESCRIBE_PICK, job_id, index), emoji=emoji, row=0))
    view.add_item(JobButton(ButtonId(Action.DESCRIBE_RETRY, job_id, 0), emoji="🔄", row=0))
    view.add_item(
        JobButton(ButtonId(Action.DESCRIBE_ALL, job_id, 0), label="Imagine all", emoji="🎉", row=1)
    )
    return view


async def handle_describe_button(
    interaction: discord.Interaction[Any], service: JobService, button: ButtonId
) -> None:
    job = await job_or_reply(interaction, service.db, button.job_id)
    if job is None:
        return
    described: dict[str, Any] = job.parameters.get("describe", {})
    prompts: list[str] = described.get("prompts", [])
    if button.action is Action.DESCRIBE_PICK:
        if not 1 <= button.index <= len(prompts):
            await interaction.response.send_message("That prompt is not there.", ephemeral=True)
            return
        await interaction.response.send_modal(
            prompt_modal(
                "describe",
                job.id,
                button.index,
                title="Imagine This!",
                label="Prompt",
                default=prompts[button.index - 1],
            )
        )
    elif button.action is Action.DESCRIBE_RETRY:
        await interaction.response.defer(thinking=True)
        entry = described["image"]
        data = await asyncio.to_thread(service.store.read, entry["path"], entry["sha256"])
        await _run(interaction, service, entry, data, seed=_new_seed(), parent_id=job.id)
    else:
        await _imagine_all(interaction, service, prompts)


def _new_seed() -> int:
    return random_seed() or 1  # seed 0 is the first description (beam search)


async def _imagine_all(
    interaction: discord.Interaction[Any], service: JobService, prompts: list[str]
) -> None:
    if not service.accepting:
        await interaction.response.send_message(
            "The bot is restarting; press it again in a minute.", ephemeral=True
        )
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    preferences = await load_preferences(service.db, interaction.user.id)
    jobs = []
    for text in prompts:
        try:
            jobs += parse_with_preferences(text, preferences, max_permutations=1)
        except PromptError:  # a candidate that is not a valid prompt is skipped
            log.warning("describe candidate is not a valid prompt: %r", text)
    raws = [p.canonical for p in jobs]
    await start_jobs(interaction, service, jobs, raws, default_mode=preferences.mode)
