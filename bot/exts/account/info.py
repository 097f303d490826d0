"""``/info`` (your usage and your queue) and ``/show`` (one of your jobs again, live buttons)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import escape_markdown

from bot import texts
from bot.deps import Deps
from bot.errors import UserError
from bot.jobs.runner import JobRunner
from db import DiskSpace, JobMode, JobNotFoundError, JobStatus, disk_space
from db import jobs as repo
from db.users import get_or_create_user

__all__ = ["Info", "fit_lines", "info_embed"]

log = logging.getLogger(__name__)

EMBED_DESCRIPTION_MAX = 4096
JOB_PROMPT_MAX = 80
MORE_RESERVE = len("\n…and 99999 more")
JOB_MODES = {JobMode.FAST: "Fast", JobMode.RELAX: "Relaxed", JobMode.TURBO: "Turbo"}
JOB_ID_EXAMPLE = "9333dcd0-681e-4840-a29c-801e502ae424"


class Info(commands.Cog):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @app_commands.command(name="info", description="View information about your profile and jobs")
    async def info(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = self.deps.settings
        space = await asyncio.to_thread(disk_space, settings.mj_data_dir, settings.min_free_disk)
        embed = await info_embed(self.deps.runner, interaction.user.id, space)
        await interaction.edit_original_response(embed=embed)

    @app_commands.command(name="show", description="Show one of your jobs again, with its buttons")
    @app_commands.describe(job_id=f"The job's ID, e.g. {JOB_ID_EXAMPLE}")
    async def show(
        self, interaction: discord.Interaction[Any], job_id: app_commands.Range[str, 1, 100]
    ) -> None:
        await _show(interaction, self.deps, job_id)


async def info_embed(
    runner: JobRunner, user_id: int, space: DiskSpace | None = None
) -> discord.Embed:
    """Midjourney's "Your info": ``**Key**: value`` lines, then the user's unfinished jobs."""
    async with runner.db.session() as session:
        user = await get_or_create_user(session, user_id)
        jobs = await repo.active_jobs(session, user_id)
        images = await repo.lifetime_images(session, user_id)
    queued = [job for job in jobs if job.status is JobStatus.QUEUED]
    relaxed = sum(1 for job in queued if job.mode is JobMode.RELAX)
    used = user.gpu_seconds_fast + user.gpu_seconds_relax
    lines = [
        f"**User ID**: {user_id}",
        f"**Job Mode**: {JOB_MODES[user.mode]}",
        "**Visibility Mode**: Public",
        f"**Fast Time Used**: {_duration(user.gpu_seconds_fast)}",
        f"**Relaxed Usage**: {_duration(user.gpu_seconds_relax)}",
        f"**Lifetime Usage**: {images} images ({_duration(used)})",
        f"**Queued Jobs (fast)**: {len(queued) - relaxed}",
        f"**Queued Jobs (relax)**: {relaxed}",
        f"**Running Jobs**: {len(jobs) - len(queued)}",
    ]
    if space is not None and space.low:  # new jobs may fail to save: say so before they do
        lines.append(f"**Server Disk**: low, {space.describe()}")
    job_lines = [_job_line(runner, number, job) for number, job in enumerate(jobs, 1)]
    description = fit_lines("\n".join(lines), job_lines, EMBED_DESCRIPTION_MAX)
    return discord.Embed(title="Your info", description=description)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} seconds"
    if seconds < 3600:
        return f"{seconds / 60:.2f} minutes"
    return f"{seconds / 3600:.2f} hours"


def _job_line(runner: JobRunner, number: int, job: Any) -> str:
    prompt = escape_markdown(texts.shorten(job.prompt, JOB_PROMPT_MAX))
    if job.status is JobStatus.RUNNING:
        state = "running"
    elif runner.in_engine(job.id):
        state = f"queued · {runner.queue_note(job.id) or 'starting'}"
    else:
        state = "waiting for one of your other jobs to finish"
    return f"{number}. {prompt} ({texts.mode_label(str(job.mode))}) — {state}"


def fit_lines(head: str, items: list[str], limit: int) -> str:
    """``head``, a blank line and as many ``items`` as fit in ``limit`` characters; the rest
    are counted (``…and 3 more``)."""
    if not items:
        return head
    text = head + "\n"
    for shown, item in enumerate(items):
        if len(text) + 1 + len(item) + MORE_RESERVE > limit:
            return f"{text}\n…and {len(items) - shown} more"
        text += "\n" + item
    return text


async def _show(interaction: discord.Interaction[Any], deps: Deps, text: str) -> None:
    # 1. A job ID is a UUID: anything else is answered at once, with no I/O.
    try:
        job_id = str(uuid.UUID(text.strip()))
    except ValueError:
        shown = texts.shorten(text.strip().replace("`", ""), 60)
        raise UserError(
            f"`{shown}` is not a job ID. Job IDs look like `{JOB_ID_EXAMPLE}`: find them at "
            "the end of an image's file name, or react ✉️ to a job to get it in your DMs.",
            title="Invalid job ID",
        ) from None
    # 2. Acknowledge, then look the job up and check it can be shown.
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        async with deps.db.session() as session:
            job = await repo.get_job(session, job_id, with_images=True)
    except JobNotFoundError:
        raise UserError(f"There is no job with ID `{job_id}`.", title="Invalid job ID") from None
    refusal = _refusal(job, interaction.user.id)
    if refusal is not None:
        title, message, warning = refusal
        raise UserError(message, title=title, warning=warning)
    # 3. Post it with fresh buttons; reactions on the new message act on the job.
    channel = interaction.channel or deps.client.get_partial_messageable(
        interaction.channel_id or 0
    )
    message = await deps.runner.delivery.post(job, channel, interaction.filesize_limit)
    async with deps.db.session() as session:
        await repo.set_messages(session, job.id, result=message.id)
    log.info("job %s: shown again as message %s", job.id, message.id)
    await interaction.delete_original_response()


def _refusal(job: Any, user_id: int) -> tuple[str, str, bool] | None:
    """Why ``job`` cannot be shown to ``user_id``: (title, text, warning), or ``None``."""
    where = f" in <#{job.channel_id}>" if job.channel_id else ""
    if job.user_id != user_id:
        return "Not your job", "/show only works on your own jobs.", False
    if job.status is JobStatus.QUEUED:
        return "Not finished", f"That job is still queued; it will be posted{where}.", True
    if job.status is JobStatus.RUNNING:
        return "Not finished", f"That job is still running; it will be posted{where}.", True
    if job.status is JobStatus.CANCELLED:
        return "Nothing to show", "That job was cancelled before it made any images.", False
    if job.status is JobStatus.FAILED:
        reason = texts.shorten(job.error or "an error", 500)
        return "Nothing to show", f"That job failed ({reason}), so it has no images.", False
    if not job.images:
        return "Nothing to show", "That job made no images (only /describe prompts).", False
    return None
