"""Submitting jobs from an interaction: recorded first, acknowledged second, launched third.

An acknowledged command is never lost: the job rows are committed before Discord is told
the command was received, so a crash at any moment after the acknowledgement leaves jobs that
recovery finishes. Discord allows 3 s for the acknowledgement: when the database is slower
than :data:`ACK_BUDGET_S` (another process holds its write lock), the interaction is
acknowledged anyway and the rows follow — a crash in that window loses the command, which
the user sees as a "thinking…" answer that never resolves (logged as a warning).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import discord

from bot import texts
from bot.errors import UserError, reply
from bot.jobs.records import ReplyHandle
from bot.jobs.runner import JobRunner, Submission
from bot.jobs.spec import JobSpec
from db import JobKind, JobMode, QueueFullError
from db.jobs import Admission

__all__ = [
    "ACK_BUDGET_S",
    "record_then_acknowledge",
    "reply_handle",
    "submit",
    "submit_images_command",
]

log = logging.getLogger(__name__)

ACK_BUDGET_S = 2.0
"""How long after its creation an interaction is acknowledged at the latest, recorded or not
(Discord allows 3 s; the rest is for the acknowledgement's own round trip)."""
T = TypeVar("T")


def reply_handle(interaction: discord.Interaction[Any]) -> ReplyHandle:
    """What recovery needs to close this interaction's deferred answer after a restart."""
    created = interaction.created_at.timestamp()
    return ReplyHandle.of(interaction.application_id, interaction.token, created)


async def submit(
    interaction: discord.Interaction[Any],
    runner: JobRunner,
    submissions: Sequence[Submission],
    *,
    acknowledge: Callable[[], Awaitable[object]],
    replace_answer: bool,
) -> list[Admission]:
    """Admit ``submissions`` in order (until the user's queue is full), ``acknowledge``, then
    launch each. What needs telling (queued, queue full, a link that cannot be used) replaces
    the deferred answer (``replace_answer``: commands) or follows it, ephemeral (buttons);
    with nothing to tell, a replaceable answer is deleted."""
    notes: list[UserError] = []
    admitted: list[Admission] = []

    async def admit_all() -> None:
        for submission in submissions:
            try:
                admitted.append(await runner.admit(submission))
            except QueueFullError:
                # The command to try again, for /imagine (other commands' echoes are no prompt).
                again = replace_answer and submission.kind is JobKind.IMAGINE
                footer = f"/imagine {submission.raw}" if again else None
                notes.append(UserError(texts.QUEUE_FULL, title="Queue full", footer=footer))
                return

    await record_then_acknowledge(interaction, admit_all(), acknowledge)
    if any(a.held for a in admitted):
        notes.insert(0, UserError(texts.JOB_QUEUED, title="Job queued", warning=True))
    for admission in admitted:
        refusal = await runner.launch(admission.job.id)
        if refusal is not None:
            notes.append(refusal)
    await _answer(interaction, notes, replace_answer)
    return admitted


async def submit_images_command(
    interaction: discord.Interaction[Any],
    runner: JobRunner,
    *,
    kind: JobKind,
    prompt: str,
    spec: JobSpec,
    label: str,
    mode: JobMode,
) -> None:
    """One job from a slash command about images (``/transfer``, ``/mimic``): its echo is
    ``prompt`` (no prompt to parse), answered "thinking…" while it is recorded, then
    launched; what needs telling replaces that answer."""
    submission = Submission(
        user_id=interaction.user.id,
        channel_id=interaction.channel_id or 0,
        guild_id=interaction.guild_id,
        kind=kind,
        prompt=prompt,
        raw=prompt,
        spec=spec,
        mode=mode,
        label=label,
        upload_limit=interaction.filesize_limit,
        reply=reply_handle(interaction),
    )

    async def think() -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)

    await submit(interaction, runner, [submission], acknowledge=think, replace_answer=True)


async def record_then_acknowledge(
    interaction: discord.Interaction[Any],
    record: Awaitable[T],
    acknowledge: Callable[[], Awaitable[object]],
) -> T:
    """Await ``record`` (the durable write), then ``acknowledge``; if the write is not done
    :data:`ACK_BUDGET_S` after the interaction was created, acknowledge meanwhile (Discord's
    deadline comes first). A refusal raised in time (restarting) is raised instead."""
    recording = asyncio.ensure_future(record)
    age = time.time() - interaction.created_at.timestamp()
    await asyncio.wait({recording}, timeout=max(0.0, ACK_BUDGET_S - age))
    if recording.done():
        recording.result()
    else:
        log.warning("recording is slow (database busy): acknowledging before it is recorded")
    await acknowledge()
    return await recording


async def _answer(
    interaction: discord.Interaction[Any], notes: list[UserError], replace_answer: bool
) -> None:
    if not replace_answer:
        for note in notes:
            await reply(interaction, embed=note.embed())
    elif notes:
        embeds = [note.embed() for note in notes][:10]
        await interaction.edit_original_response(content=None, embeds=embeds, view=None)
    else:
        await interaction.delete_original_response()
