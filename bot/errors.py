"""Turning problems into replies: red ephemeral embeds with the rendered prompt error.

Handling order (as in python-discord's error handler): prompt errors and admission refusals
are user mistakes and get specific embeds; anything unexpected is logged with an incident id
and the user sees only that id — never a traceback.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import discord

from bot import texts
from db import Database, Job, JobNotFoundError, QueueFullError
from db import jobs as repo
from parser import PromptError, UnknownParameterError

__all__ = ["incident", "job_or_reply", "prompt_error_embed", "reply_admission_error", "send_embed"]

log = logging.getLogger(__name__)


def prompt_error_embed(error: PromptError, footer: str) -> discord.Embed:
    """``Invalid parameter`` (or ``Invalid prompt``) with the caret under the problem."""
    title = (
        "Invalid parameter"
        if error.parameter or isinstance(error, UnknownParameterError)
        else "Invalid prompt"
    )
    where = "your /prefer suffix" if error.origin == "suffix" else "your prompt"
    lines = [error.msg, f"In {where}:", f"```\n{error.render()}\n```"]
    if error.hint:
        lines.append(error.hint)
    return texts.error_embed(title, "\n".join(lines), footer=footer)


async def send_embed(interaction: discord.Interaction[Any], embed: discord.Embed) -> None:
    """An ephemeral embed, whether or not the interaction was acknowledged already."""
    if interaction.response.is_done():
        await interaction.followup.send(embed=embed, ephemeral=True)
    else:
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def job_or_reply(
    interaction: discord.Interaction[Any], db: Database, job_id: str, *, with_images: bool = False
) -> Job | None:
    """The job a button or form names, or ``None`` after telling the user it is gone."""
    try:
        async with db.session() as session:
            return await repo.get_job(session, job_id, with_images=with_images)
    except JobNotFoundError:
        if interaction.response.is_done():
            await interaction.followup.send("That job no longer exists.", ephemeral=True)
        else:
            await interaction.response.send_message("That job no longer exists.", ephemeral=True)
        return None


async def reply_admission_error(
    interaction: discord.Interaction[Any], error: QueueFullError
) -> None:
    await send_embed(interaction, texts.error_embed("Queue full", texts.QUEUE_FULL))


async def incident(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Log an unexpected failure with a short id the user can quote."""
    code = uuid.uuid4().hex[:8]
    log.error("incident %s while handling %s", code, interaction.data, exc_info=error)
    embed = texts.error_embed(
        "Internal error", f"Something went wrong on our side (incident `{code}`)."
    )
    try:
        await send_embed(interaction, embed)
    except discord.HTTPException:
        log.warning("incident %s: could not tell the user", code)
