"""Owner-only job controls: ❌ (button or reaction) stops a job, ✉️ sends it to your DMs.

Reactions get no replies (there is no interaction to answer), so a reaction from anyone but
the job's owner is logged and otherwise ignored, as in Midjourney.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.service import DM_UPLOAD_LIMIT, CancelOutcome
from bot.texts import shorten
from db import JobNotFoundError, JobStatus
from db import jobs as repo
from db.errors import StorageError
from engine.grid import EncodedImage, encode_to_fit

if TYPE_CHECKING:
    from bot.custom_ids import ButtonId
    from bot.service import JobService

__all__ = ["CANCEL", "ENVELOPE", "Reactions", "cancel_button", "dm_text", "send_to_dms"]

log = logging.getLogger(__name__)

CANCEL = "❌"
ENVELOPE = "✉"
"""Compared without the emoji presentation selector: ✉️ and ✉ are the same reaction."""
MESSAGE_MAX = 2000
NEGATIVE_MAX = 300
CANCEL_NOTES = {
    CancelOutcome.FINISHING: (
        "Too late to cancel: that job has finished rendering and its images are being posted."
    ),
    CancelOutcome.ENDED: "That job has already ended; there is nothing to cancel.",
}


# -- ❌ ---------------------------------------------------------------------------------------


async def cancel_button(
    interaction: discord.Interaction[Any], service: JobService, button: ButtonId
) -> None:
    """❌ under a waiting message. Only the job's owner may press it; the message itself then
    shows the outcome (``(Stopped)``), so the owner hears back only when nothing was done."""
    await interaction.response.defer()  # acknowledge first: the rest touches the database
    try:
        async with service.db.session() as session:
            job = await repo.get_job(session, button.job_id)
        if job.user_id != interaction.user.id:
            await _tell(interaction, f"Only <@{job.user_id}> can cancel this job.")
            return
        outcome = await service.cancel(job.id)
    except JobNotFoundError:
        await _tell(interaction, "That job no longer exists.")
        return
    log.info("job %s: ❌ pressed by its owner: %s", job.id, outcome)
    note = CANCEL_NOTES.get(outcome)
    if note is not None:
        await _tell(interaction, note)


async def _tell(interaction: discord.Interaction[Any], text: str) -> None:
    await interaction.followup.send(
        text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


# -- reactions --------------------------------------------------------------------------------


class Reactions:
    """❌ and ✉️ reactions on a job's waiting or result message (found through the message id
    the database records for it)."""

    def __init__(self, service: JobService) -> None:
        self.service = service

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        emoji = _emoji_name(event.emoji)
        me = self.service.client.user
        if emoji not in (CANCEL, ENVELOPE) or (me is not None and event.user_id == me.id):
            return
        try:
            async with self.service.db.session() as session:
                job = await repo.job_by_message(session, event.message_id)
        except JobNotFoundError:
            return  # not a job's message
        if job.user_id != event.user_id:
            log.info(
                "job %s: %s from user %s, not its owner: ignored", job.id, emoji, event.user_id
            )
            return
        if emoji == ENVELOPE:
            await send_to_dms(self.service, job.id)
            return
        if not self.service.accepting:
            log.info("job %s: ❌ while restarting: ignored", job.id)
            return
        outcome = await self.service.cancel(job.id)
        log.info("job %s: ❌ reaction by its owner: %s", job.id, outcome)


def _emoji_name(emoji: discord.PartialEmoji) -> str:
    if not emoji.is_unicode_emoji():
        return ""
    return emoji.name.replace("\ufe0f", "")


# -- ✉️ ---------------------------------------------------------------------------------------


async def send_to_dms(service: JobService, job_id: str) -> None:
    """✉️: DM the owner the job's ID, seeds, prompt and parameters, with each image as its own
    file (all of them together under the DM upload limit)."""
    async with service.db.session() as session:
        job = await repo.get_job(session, job_id, with_images=True)
    if job.status is not JobStatus.DONE or not job.images:
        log.info("job %s: ✉️ on a job without images (%s): ignored", job.id, job.status)
        return
    stored = [(image.path, image.sha256) for image in job.images]
    limit = DM_UPLOAD_LIMIT // len(stored)
    try:
        encoded = await asyncio.to_thread(_encode_each, service, stored, limit)
    except StorageError as error:
        log.warning("job %s: ✉️ cannot read its images: %s", job.id, error)
        return
    files = [
        discord.File(io.BytesIO(image.data), filename=f"{job.id}_{number}{image.extension}")
        for number, image in enumerate(encoded, 1)
    ]
    user = service.client.get_user(job.user_id) or await service.client.fetch_user(job.user_id)
    try:
        await user.send(dm_text(job), files=files)
    except discord.Forbidden:
        log.info("job %s: its owner does not accept DMs from the bot", job.id)
        return
    log.info("job %s: sent to its owner's DMs", job.id)


def _encode_each(
    service: JobService, stored: list[tuple[str, str]], limit: int
) -> list[EncodedImage]:
    return [encode_to_fit(service.read_image(path, sha256), limit) for path, sha256 in stored]


def dm_text(job: Any) -> str:
    """Midjourney's ✉️ message: ``**Job ID**: <uuid>`` and ``**seed** <n>`` first (tools parse
    them), then every seed of a grid, the prompt and the parameters the job ran with.
    Long prompts are shortened so the message stays under Discord's 2000 characters."""
    seeds = [image.seed for image in job.images if image.seed is not None] or list(job.seeds)
    head = [f"**Job ID**: {job.id}"]
    if seeds:
        head.append(f"**seed** {seeds[0]}")
    if len(seeds) > 1:
        head.append("**seeds** " + " ".join(str(seed) for seed in seeds))
    tail = parameter_lines(job.model, job.parameters.get("effective", {}))
    label = "**Prompt**: "
    room = MESSAGE_MAX - len("\n".join([*head, *tail])) - len(label) - 2
    return "\n".join([*head, label + shorten(job.prompt, room), *tail])


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _size(value: Any) -> str:
    width, height = value
    return f"{width}×{height}"


def _references(value: Any) -> str:
    parts = []
    for kind, weight in (("images", "iw"), ("styles", "sw"), ("characters", "cw")):
        if value.get(kind):
            parts.append(f"{value[kind]} {kind} (--{weight} {_number(value.get(weight))})")
    return ", ".join(parts)


EFFECTIVE: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("operation", "Operation", str),
    ("size", "Size", _size),
    ("steps", "Steps", _number),
    ("guidance_scale", "Guidance", _number),
    ("sampler", "Sampler", str),
    ("strength", "Strength", _number),
    ("chaos", "Chaos", _number),
    ("quality", "Quality", _number),
    ("stop", "Stop", _number),
    ("tile", "Tile", lambda _: "on"),
    ("negative_prompt", "Negative prompt", lambda v: shorten(str(v), NEGATIVE_MAX)),
    ("references", "References", _references),
)
"""The effective parameters the ✉️ message shows, in order: (key, label, format)."""


def parameter_lines(model: str | None, effective: dict[str, Any]) -> list[str]:
    """``**Label**: value`` for the model and each effective parameter the job had (unset,
    empty and off ones are left out)."""
    lines = [f"**Model**: {shorten(model, NEGATIVE_MAX)}"] if model else []
    for key, label, show in EFFECTIVE:
        value = effective.get(key)
        if value is None or value is False or value in ("", {}, []):
            continue
        lines.append(f"**{label}**: {show(value)}")
    return lines
