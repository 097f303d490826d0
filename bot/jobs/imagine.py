"""Imagining typed text — ``/imagine``, a ``/describe`` pick, ``/blend`` — as grid jobs.

Quick checks first (no waiting: Discord's 3 s), then many jobs ask for confirmation, and the
rest are recorded, acknowledged and launched (``bot.jobs.submit``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord

from bot import texts
from bot.errors import UserError, report
from bot.jobs.modes import job_mode
from bot.jobs.prompts import PromptChecks, check_prompt
from bot.jobs.references import resolve_random_styles, wanted_references
from bot.jobs.runner import RESTARTING, JobRunner, Submission
from bot.jobs.spec import JobSpec, ReferenceSpec
from bot.jobs.submit import reply_handle, submit
from bot.preferences import load_preferences
from db import JobKind, JobMode
from parser import Prompt

__all__ = ["CONFIRM_ABOVE", "ConfirmJobs", "imagine_text", "start_prompts"]

CONFIRM_ABOVE = 4
"""Permutation or --repeat prompts making more jobs than this ask for confirmation first."""


async def imagine_text(
    interaction: discord.Interaction[Any], runner: JobRunner, checks: PromptChecks, text: str
) -> None:
    """``/imagine text`` for any interaction (the command, a form, a button)."""
    # 1. Quick checks that need no waiting, answered at once.
    if not runner.accepting:
        raise RESTARTING
    footer = f"/imagine {text}"
    preferences = await load_preferences(runner.db, interaction.user.id)
    prompts = await check_prompt(text, preferences, checks, footer=footer)
    jobs = [p for p in prompts for _ in range(p.params.repeat or 1)]
    mode = preferences.mode
    if len(jobs) > 1 and any(job_mode(p, mode) is JobMode.RELAX for p in jobs):
        raise UserError(texts.RELAX_MULTI, title="Relax mode", footer=footer)
    # 2. Many jobs: ask first. Otherwise record, acknowledge, launch.
    if len(jobs) > CONFIRM_ABOVE:
        view = ConfirmJobs(runner, jobs, text, mode)
        await interaction.response.send_message(
            f"This prompt makes **{len(jobs)} jobs**. Start them all?", view=view, ephemeral=True
        )
        return
    await start_prompts(interaction, runner, jobs, text, mode=mode)


async def start_prompts(
    interaction: discord.Interaction[Any],
    runner: JobRunner,
    prompts: Sequence[Prompt],
    raw: str | Sequence[str],
    *,
    mode: JobMode,
    kind: JobKind = JobKind.IMAGINE,
    references: tuple[ReferenceSpec, ...] | None = None,
    acknowledge: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """One job per prompt. ``raw`` is what the user typed: one text for all, or one each.
    ``references`` replace the prompts' own (``/blend``'s uploads). ``acknowledge`` answers
    the interaction once the jobs are recorded (default: "thinking…", only for the user)."""
    raws = [raw] * len(prompts) if isinstance(raw, str) else list(raw)
    handle = reply_handle(interaction)
    submissions = []
    for prompt, job_raw in zip(prompts, raws, strict=True):
        prompt = resolve_random_styles(prompt)
        wanted = references if references is not None else wanted_references(prompt)
        submissions.append(
            Submission(
                user_id=interaction.user.id,
                channel_id=interaction.channel_id or 0,
                guild_id=interaction.guild_id,
                kind=kind,
                prompt=prompt.canonical,
                raw=job_raw,
                spec=JobSpec.from_prompt(prompt, references=wanted),
                mode=job_mode(prompt, mode),
                upload_limit=interaction.filesize_limit,
                reply=handle,
            )
        )

    async def think() -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)

    await submit(
        interaction, runner, submissions, acknowledge=acknowledge or think, replace_answer=True
    )


class ConfirmJobs(discord.ui.View):
    """Yes/No before starting many jobs (ephemeral, short-lived: not persisted)."""

    def __init__(self, runner: JobRunner, jobs: list[Prompt], raw: str, mode: JobMode) -> None:
        super().__init__(timeout=300)
        self.runner = runner
        self.jobs = jobs
        self.raw = raw
        self.mode = mode

    @discord.ui.button(label="Yes", style=discord.ButtonStyle.success)
    async def yes(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        self.stop()

        async def starting() -> None:
            await interaction.response.edit_message(
                content=f"Starting {len(self.jobs)} jobs…", view=None
            )

        await start_prompts(
            interaction, self.runner, self.jobs, self.raw, mode=self.mode, acknowledge=starting
        )

    @discord.ui.button(label="No", style=discord.ButtonStyle.danger)
    async def no(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]
    ) -> None:
        self.stop()
        await interaction.response.edit_message(
            content="Cancelled; nothing was started.", view=None
        )

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        await report(interaction, error)
