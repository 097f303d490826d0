"""``/describe``: an image (upload or link) → four prompts, with buttons to imagine them:
1️⃣–4️⃣ open an editable ``/imagine`` form, 🔄 describes the image again, 🎉 imagines all."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.deps import Deps, FeatureBot
from bot.errors import UserError
from bot.exts.describe.jobs import KEY, DescribeData, Describing
from bot.jobs.imagine import imagine_text, start_prompts
from bot.jobs.records import JobView, load_job
from bot.jobs.spec import ReferenceSpec, Role
from bot.jobs.submit import record_then_acknowledge
from bot.preferences import load_preferences, parse_with_preferences
from bot.ui.custom_ids import ButtonId, FormId
from bot.ui.forms import PROMPT_FIELD, prompt_form
from bot.ui.routing import Placement, Surface
from db import JobKind
from engine.request import random_seed
from parser import PromptError

__all__ = ["setup"]

log = logging.getLogger(__name__)

PICK, RETRY, ALL = "describe", "describe_retry", "describe_all"
FORM = "describe"
ONE_IMAGE = "Give /describe one image: attach it (image) or link it (link)."


class Describe(commands.Cog):
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.jobs = Describing(deps)

    @app_commands.command(
        name="describe", description="Writes four example prompts based on an image you upload"
    )
    @app_commands.describe(image="The image to describe", link="Or: a link to the image")
    async def describe(
        self,
        interaction: discord.Interaction[Any],
        image: discord.Attachment | None = None,
        link: str | None = None,
    ) -> None:
        link = link.strip() if link else None
        if (image is None) == (link is None or not link):
            raise UserError(ONE_IMAGE, title="Invalid parameter")
        if image is not None:
            source = ReferenceSpec(Role.IMAGE, url=image.url, upload=True, size=image.size)
        else:
            source = ReferenceSpec(Role.IMAGE, url=link)
        await self._start(interaction, DescribeData(source, seed=0), parent_id=None)

    async def press(self, interaction: discord.Interaction[Any], button: ButtonId) -> None:
        job = JobView.of(await load_job(self.deps.db, button.job_id))
        if KEY not in job.parameters.extra:
            raise UserError("That is not a /describe answer.")
        data = DescribeData.of(job)
        if button.action == PICK:
            if not 1 <= button.index <= len(data.prompts):
                raise UserError("That prompt is not there.")
            form = FormId(FORM, job.id, button.index)
            await interaction.response.send_modal(
                prompt_form(
                    form,
                    title="Imagine This!",
                    label="Prompt",
                    default=data.prompts[button.index - 1],
                )
            )
        elif button.action == RETRY:
            again = DescribeData(data.image, seed=random_seed() or 1)  # 0: the first answer
            await self._start(interaction, again, parent_id=job.id)
        else:
            await self._imagine_all(interaction, list(data.prompts))

    async def submit_pick(
        self, interaction: discord.Interaction[Any], form: FormId, values: Mapping[str, str]
    ) -> None:
        text = values.get(PROMPT_FIELD, "")
        await imagine_text(interaction, self.deps.runner, self.deps.checks, text)

    async def _start(
        self, interaction: discord.Interaction[Any], data: DescribeData, parent_id: str | None
    ) -> None:
        submission = self.jobs.submission(interaction, data, parent_id)
        admission = await record_then_acknowledge(
            interaction,
            self.deps.runner.admit(submission, limited=False),
            lambda: interaction.response.defer(thinking=True),
        )
        await self.jobs.run(admission.job.id, interaction.edit_original_response)

    async def _imagine_all(self, interaction: discord.Interaction[Any], prompts: list[str]) -> None:
        preferences = await load_preferences(self.deps.db, interaction.user.id)
        jobs = []
        for text in prompts:
            try:
                jobs += parse_with_preferences(text, preferences, max_permutations=1)
            except PromptError:  # a candidate that is not a valid prompt is skipped
                log.warning("describe candidate is not a valid prompt: %r", text)
        raws = [p.canonical for p in jobs]
        await start_prompts(interaction, self.deps.runner, jobs, raws, mode=preferences.mode)


async def setup(bot: FeatureBot) -> None:
    cog = Describe(bot.deps)
    await bot.add_cog(cog)
    routes = bot.deps.routes
    keycap = Placement(Surface.DESCRIBE, 0, 0, emoji="{n}\ufe0f\u20e3", per_image=True)  # 1️⃣–4️⃣
    routes.add_button(PICK, cog.press, keycap)
    routes.add_button(RETRY, cog.press, Placement(Surface.DESCRIBE, 0, 10, emoji="🔄"))
    routes.add_button(ALL, cog.press, Placement(Surface.DESCRIBE, 1, 0, "Imagine all", "🎉"))
    routes.add_form(FORM, cog.submit_pick)
    bot.deps.runner.add_resumer(JobKind.DESCRIBE, cog.jobs.resume)
