"""🎨 Style Transfer under a single image: a form asks for the style image (a link, prefilled
with the job's own ``--sref`` image) and the strength; submitting it restyles the image."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord

from bot.deps import Deps
from bot.errors import UserError
from bot.jobs.records import JobParameters, JobView, load_job
from bot.jobs.references import reuse
from bot.jobs.runner import RESTARTING, Submission
from bot.jobs.spec import JobSpec, ReferenceSpec, Role, SourceImage, Transfer
from bot.jobs.submit import submit
from bot.jobs.transfer import (
    LABEL,
    STRENGTH_DEFAULT,
    STRENGTH_RANGE,
    TransferOptions,
    check_link,
    parse_number,
    transfer_prompt,
    transfer_spec,
)
from bot.ui.custom_ids import ButtonId, FormId
from db import Job, JobKind

__all__ = ["ACTION", "FORM", "STRENGTH_FIELD", "STYLE_FIELD", "TransferButton", "transfer_form"]

ACTION = "transfer"
"""The button's ``custom_id`` word."""
FORM = "transfer"
STYLE_FIELD = "style"
STRENGTH_FIELD = "strength"
FORM_LIFETIME_S = 15 * 60
LINK_MAX = 2000
NOT_AVAILABLE = "That image is not available."


def transfer_form(form: FormId, style: str | None) -> discord.ui.Modal:
    modal = discord.ui.Modal(title=LABEL, custom_id=str(form), timeout=FORM_LIFETIME_S)
    modal.add_item(
        discord.ui.TextInput(
            label="Style image (a link)",
            custom_id=STYLE_FIELD,
            placeholder="https://…/style.png",
            default=style,
            max_length=LINK_MAX,
        )
    )
    low, high = STRENGTH_RANGE
    modal.add_item(
        discord.ui.TextInput(
            label=f"Strength ({low}–{high})",
            custom_id=STRENGTH_FIELD,
            default=str(STRENGTH_DEFAULT),
            max_length=6,
            required=False,
        )
    )
    return modal


class TransferButton:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def open_form(self, interaction: discord.Interaction[Any], button: ButtonId) -> None:
        job = await self._job(button.job_id, button.index)
        spec = JobParameters.from_json(job.parameters).spec
        form = FormId(FORM, job.id, button.index)
        await interaction.response.send_modal(transfer_form(form, _style_link(spec)))

    async def submit_form(
        self, interaction: discord.Interaction[Any], form: FormId, values: Mapping[str, str]
    ) -> None:
        """A style transfer of the image with the linked style (fetched when it launches)."""
        # 1. Quick checks, answered at once; nothing is queued on a refusal.
        runner = self.deps.runner
        if not runner.accepting:
            raise RESTARTING
        link = check_link("style", values.get(STYLE_FIELD, ""))
        strength_text = values.get(STRENGTH_FIELD, "").strip() or str(STRENGTH_DEFAULT)
        strength = parse_number("strength", strength_text, STRENGTH_RANGE)
        parent = JobView.of(await self._job(form.job_id, form.index))
        # 2. The style: stored already when it is the job's own --sref image.
        known = parent.parameters.spec.references if parent.parameters.spec else ()
        [style] = reuse([ReferenceSpec(Role.STYLE, url=link)], known)
        content = SourceImage(parent.id, form.index - 1)
        spec = transfer_spec(
            content, style, TransferOptions(strength), steps=self.deps.settings.mj_transfer_steps
        )
        # 3. Record, acknowledge, launch.
        submission = Submission(
            user_id=interaction.user.id,
            channel_id=interaction.channel_id or parent.channel_id,
            guild_id=interaction.guild_id,
            kind=JobKind.TRANSFER,
            prompt=transfer_prompt(parent.prompt, link),
            raw=parent.raw_prompt,
            spec=spec,
            mode=parent.mode,
            label=LABEL,
            parent_job_id=parent.id,
            parent_index=content.index,
            upload_limit=interaction.filesize_limit,
        )
        await submit(
            interaction,
            runner,
            [submission],
            acknowledge=interaction.response.defer,
            replace_answer=False,
        )

    async def _job(self, job_id: str, number: int) -> Job:
        job = await load_job(self.deps.db, job_id, with_images=True)
        if not any(image.index == number - 1 for image in job.images):
            raise UserError(NOT_AVAILABLE)
        return job


def _style_link(spec: JobSpec | None) -> str | None:
    """The job's own style image link: its first ``--sref`` image, or the style it was
    itself restyled with."""
    if spec is None:
        return None
    if isinstance(spec.work, Transfer) and not spec.work.style.upload:
        return spec.work.style.url
    links = [r.url for r in spec.references if r.role is Role.STYLE and r.url and not r.upload]
    return links[0] if links else None
