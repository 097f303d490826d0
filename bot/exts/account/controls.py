"""Owner-only job controls: ❌ (button or reaction) stops a job, ✉️ sends it to your DMs.

Reactions get no replies (there is no interaction to answer), so a reaction from anyone but
the job's owner is logged and otherwise ignored, as in Midjourney.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from typing import Any

import discord

from bot.deps import Deps
from bot.errors import UserError
from bot.jobs.delivery import DM_UPLOAD_LIMIT
from bot.jobs.records import JOB_GONE
from bot.jobs.runner import CancelOutcome
from bot.texts import shorten
from bot.ui.custom_ids import ButtonId
from db import JobNotFoundError, JobStatus
from db import jobs as repo
from db.errors import StorageError
from db.models import Job

__all__ = ["CANCEL", "ENVELOPE", "Controls", "dm_text", "parameter_lines"]

log = logging.getLogger(__name__)

CANCEL = "❌"
ENVELOPE = "✉"
"""Compared without the emoji presentation selector: ✉️ and ✉ are the same reaction."""
MESSAGE_MAX = 2000
RECORDING_GRACE_S = 3.0
"""How long a reaction on the bot's own message waits for the job to record it."""
NEGATIVE_MAX = 300
CANCEL_NOTES = {
    CancelOutcome.FINISHING: (
        "Too late to cancel: that job has finished rendering and its images are being posted."
    ),
    CancelOutcome.ENDED: "That job has already ended; there is nothing to cancel.",
}


class Controls:
    """❌ (the button under a waiting message, or a reaction) and ✉️ (a reaction): only the
    job's owner; the message itself then shows the outcome (``(Stopped)``), so the owner hears
    back only when nothing was done. Reactions are found through the message id the database
    records for the job."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def cancel_button(self, interaction: discord.Interaction[Any], button: ButtonId) -> None:
        await interaction.response.defer()  # nothing is recorded: acknowledging first is safe
        try:
            async with self.deps.db.session() as session:
                job = await repo.get_job(session, button.job_id)
            if job.user_id != interaction.user.id:
                raise UserError(f"Only <@{job.user_id}> can cancel this job.")
            outcome = await self.deps.runner.cancel(job.id)
        except JobNotFoundError:
            raise UserError(JOB_GONE) from None
        log.info("job %s: ❌ pressed by its owner: %s", job.id, outcome)
        note = CANCEL_NOTES.get(outcome)
        if note is not None:
            raise UserError(note)

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        emoji = _emoji_name(event.emoji)
        me = self.deps.client.user
        if emoji not in (CANCEL, ENVELOPE) or (me is not None and event.user_id == me.id):
            return
        mine = me is not None and event.message_author_id == me.id
        job = await self._job_of_message(event.message_id, wait=mine)
        if job is None:
            return  # not a job's message
        if job.user_id != event.user_id:
            log.info(
                "job %s: %s from user %s, not its owner: ignored", job.id, emoji, event.user_id
            )
            return
        if emoji == ENVELOPE:
            await self.send_to_dms(job.id)
            return
        if not self.deps.runner.accepting:
            log.info("job %s: ❌ while restarting: ignored", job.id)
            return
        outcome = await self.deps.runner.cancel(job.id)
        log.info("job %s: ❌ reaction by its owner: %s", job.id, outcome)

    async def _job_of_message(self, message_id: int, *, wait: bool) -> Job | None:
        """The job whose message this is. A result is recorded a moment after Discord shows it
        (``wait``: the bot's own message): a reaction that quick waits for the record."""
        deadline = asyncio.get_running_loop().time() + (RECORDING_GRACE_S if wait else 0)
        while True:
            try:
                async with self.deps.db.read() as session:
                    return await repo.job_by_message(session, message_id)
            except JobNotFoundError:
                if asyncio.get_running_loop().time() >= deadline:
                    return None
            await asyncio.sleep(0.2)

    async def send_to_dms(self, job_id: str) -> None:
        """✉️: DM the owner the job's ID, seeds, prompt and parameters, with each image as its
        own file (all of them together under the DM upload limit)."""
        async with self.deps.db.session() as session:
            job = await repo.get_job(session, job_id, with_images=True)
        if job.status is not JobStatus.DONE or not job.images:
            log.info("job %s: ✉️ on a job without images (%s): ignored", job.id, job.status)
            return
        stored = [(image.path, image.sha256) for image in job.images]
        limit = DM_UPLOAD_LIMIT // len(stored)
        try:
            encoded = await asyncio.to_thread(self.deps.runner.delivery.encode_each, stored, limit)
        except StorageError as error:
            log.warning("job %s: ✉️ cannot read its images: %s", job.id, error)
            return
        files = [
            discord.File(io.BytesIO(image.data), filename=f"{job.id}_{number}{image.extension}")
            for number, image in enumerate(encoded, 1)
        ]
        client = self.deps.client
        user = client.get_user(job.user_id) or await client.fetch_user(job.user_id)
        try:
            await user.send(dm_text(job), files=files)
        except discord.Forbidden:
            log.info("job %s: its owner does not accept DMs from the bot", job.id)
            return
        log.info("job %s: sent to its owner's DMs", job.id)


def _emoji_name(emoji: discord.PartialEmoji) -> str:
    if not emoji.is_unicode_emoji():
        return ""
    return emoji.name.replace("\ufe0f", "")


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


def _portrait(value: Any) -> str:
    """Portraits: each cell's likeness; a training: what it learned from."""
    if "cells" in value:
        cells = ", ".join(
            f"{number} " + (f"{cell['similarity']:.2f}" if cell.get("similarity") is not None
                            else str(cell.get("dropped")))
            for number, cell in enumerate(value["cells"], 1)
        )  # fmt: skip
        kept, total = value.get("with_one_face"), value.get("candidates")
        return f"{cells} ({kept} of {total} candidates with one clear face)"
    loss = f", loss {value.get('loss_first')} → {value.get('loss_last')}"
    return (
        f"“{value.get('name')}” from {value.get('kept')} of {value.get('photos')} photos, "
        f"{value.get('steps')} steps{loss}"
    )


def _structure(value: Any) -> str:
    """Retexture: what was kept and how; Change Background: the subject's share and seam."""
    if "subject_share" in value:
        return f"subject {value['subject_share']:.0%} kept, seam {value.get('seam_px')} px"
    kept = f"{value.get('structure')} (strength {value.get('strength')})"
    if value.get("controlnet"):
        return (
            f"{kept} via ControlNet {value['controlnet']}, scale {value.get('scale')}, "
            f"for {value.get('guidance_end', 1.0):.0%} of the steps"
        )
    return f"{kept} by the fallback: {value.get('fallback')}"


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
    ("portrait", "Likeness", _portrait),
    ("structure", "Structure", _structure),
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
