"""What the grid's and the upscale row's buttons do: U<n> shows an image; the others make a
child job (``bot.jobs.children``), or open the Remix form first when the presser has Remix on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import discord

from bot.deps import Deps
from bot.errors import UserError, prompt_refusal
from bot.jobs import children
from bot.jobs.children import Child
from bot.jobs.prompts import check_prompt
from bot.jobs.records import JobView, load_job
from bot.jobs.references import resolve_random_styles, reuse, wanted_references
from bot.jobs.runner import Submission
from bot.jobs.spec import JobSpec
from bot.jobs.submit import submit
from bot.preferences import load_preferences
from bot.ui.custom_ids import ButtonId, FormId
from bot.ui.forms import PROMPT_FIELD, prompt_form
from db import Variability
from engine.canvas import canvas_size
from engine.errors import InvalidRequestError
from engine.request import OutpaintSpec, PanDirection, Strength
from parser import PromptError, parse_one

__all__ = ["CHILDREN", "ZOOM_FORM", "GridActions"]

ZOOM_FORM = "zoom"
REMIX_FORM = "remix_"
"""Remix forms are ``remix_<action>``: submitting one makes that button's child job."""

Make = Callable[[JobView, int, Variability], Child]


@dataclass(frozen=True, slots=True)
class ChildAction:
    make: Make
    remixable: bool
    """Opens the Remix form first when the presser has Remix mode on."""


def _v(parent: JobView, index: int, variability: Variability) -> Child:
    # V follows the presser's variation mode (High: strong, Low: subtle).
    low = variability is Variability.LOW
    return children.vary(parent, index, Strength.SUBTLE if low else Strength.STRONG)


def _pan(direction: PanDirection) -> ChildAction:
    return ChildAction(lambda p, i, _: children.pan(p, i, direction), remixable=True)


CHILDREN: Mapping[str, ChildAction] = {
    "reroll": ChildAction(lambda p, i, _: children.reroll(p), remixable=True),
    "v": ChildAction(_v, remixable=True),
    "vary_subtle": ChildAction(lambda p, i, _: children.vary(p, i, Strength.SUBTLE), True),
    "vary_strong": ChildAction(lambda p, i, _: children.vary(p, i, Strength.STRONG), True),
    "up_subtle": ChildAction(lambda p, i, _: children.upscale(p, i, Strength.SUBTLE), False),
    "up_creative": ChildAction(lambda p, i, _: children.upscale(p, i, Strength.STRONG), False),
    "zoom_2": ChildAction(lambda p, i, _: children.zoom_out(p, i, 2.0), False),
    "zoom_15": ChildAction(lambda p, i, _: children.zoom_out(p, i, 1.5), False),
    "square": ChildAction(lambda p, i, _: children.make_square(p, i), False),
    "pan_left": _pan(PanDirection.LEFT),
    "pan_right": _pan(PanDirection.RIGHT),
    "pan_up": _pan(PanDirection.UP),
    "pan_down": _pan(PanDirection.DOWN),
}
"""Button action → the child job it makes (actions are the stored ``custom_id`` words)."""


class GridActions:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def show_image(self, interaction: discord.Interaction[Any], button: ButtonId) -> None:
        """U<n>: the image alone, full size, with the upscale row (no GPU work, no job)."""
        await interaction.response.defer()
        job = await load_job(self.deps.db, button.job_id, with_images=True)
        channel = interaction.channel or self.deps.client.get_partial_messageable(
            job.channel_id or 0
        )
        delivery = self.deps.runner.delivery
        limit = interaction.filesize_limit
        if (
            await delivery.post_image(channel, job, button.index, interaction.user.id, limit)
            is None
        ):
            raise UserError("That image is not available.")

    async def press(self, interaction: discord.Interaction[Any], button: ButtonId) -> None:
        action = CHILDREN[button.action]
        preferences = await load_preferences(self.deps.db, interaction.user.id)
        parent = JobView.of(await load_job(self.deps.db, button.job_id))
        if action.remixable and preferences.remix:
            label = f"New prompt for image #{button.index}" if button.index else "New prompt"
            form = FormId(f"{REMIX_FORM}{button.action}", button.job_id, button.index)
            # A job made from images alone (/mimic, /transfer, /blend) echoes their names, which
            # are no prompt: the form starts empty for the words the remix adds.
            default = parent.prompt if parent.spec.settings.prompt else ""
            await interaction.response.send_modal(
                prompt_form(form, title="Remix Prompt", label=label, default=default)
            )
            return
        child = action.make(parent, button.index - 1, preferences.variability)
        await self._submit(interaction, parent, child, parent.prompt)

    async def open_custom_zoom(
        self, interaction: discord.Interaction[Any], button: ButtonId
    ) -> None:
        parent = await load_job(self.deps.db, button.job_id)
        form = FormId(ZOOM_FORM, button.job_id, button.index)
        await interaction.response.send_modal(
            prompt_form(
                form,
                title="Custom Zoom",
                label="New prompt (--zoom 1–2, --ar if you like)",
                default=f"{parent.prompt} --zoom 2",
            )
        )

    async def submit_custom_zoom(
        self, interaction: discord.Interaction[Any], form: FormId, values: Mapping[str, str]
    ) -> None:
        """The Custom Zoom form: a zoom-out of the image with the new prompt text, zoom and
        shape (the job's other parameters stay)."""
        text = values.get(PROMPT_FIELD, "")
        try:
            prompt = await asyncio.to_thread(parse_one, text, allow_zoom=True)
        except PromptError as error:
            raise prompt_refusal(error, f"Custom Zoom: {text}") from None
        job = await load_job(self.deps.db, form.job_id, with_images=True)
        image = next((i for i in job.images if i.index == form.index - 1), None)
        if image is None:
            raise UserError("That image is not available.")
        zoom = OutpaintSpec(zoom=prompt.params.zoom or 2.0, aspect=prompt.params.aspect)
        try:  # refused now, not after queueing
            canvas_size(image.width, image.height, zoom)
        except InvalidRequestError as error:
            raise UserError(str(error), title="Invalid parameter") from None
        parent = JobView.of(job)
        settings = parent.spec.settings
        parts = JobSpec.from_prompt(prompt).settings.prompt
        child = children.zoom_out(
            parent,
            form.index - 1,
            prompt.params.zoom or 2.0,
            prompt.params.aspect,
            settings=replace(settings, prompt=parts or settings.prompt),
        )
        await self._submit(interaction, parent, child, _without_zoom(prompt.canonical))

    async def submit_remix(
        self, interaction: discord.Interaction[Any], form: FormId, values: Mapping[str, str]
    ) -> None:
        """A Remix form: the button's child job, with the edited prompt."""
        action = form.kind.removeprefix(REMIX_FORM)
        text = values.get(PROMPT_FIELD, "")
        deps = self.deps
        preferences = await load_preferences(deps.db, interaction.user.id)
        [prompt] = await check_prompt(
            text, preferences, deps.checks, footer=f"Remix: {text}", edited=True
        )
        prompt = resolve_random_styles(prompt)
        parent = JobView.of(await load_job(deps.db, form.job_id))
        child = CHILDREN[action].make(parent, form.index - 1, preferences.variability)
        edited = JobSpec.from_prompt(prompt)
        references = reuse(wanted_references(prompt), parent.spec.references)
        seed_given = prompt.params.seed is not None
        child = children.remix(child, edited, references, seed_given=seed_given)
        await self._submit(interaction, parent, child, prompt.canonical)

    async def _submit(
        self, interaction: discord.Interaction[Any], parent: JobView, child: Child, prompt: str
    ) -> None:
        submission = Submission(
            user_id=interaction.user.id,
            channel_id=interaction.channel_id or parent.channel_id,
            guild_id=interaction.guild_id,
            kind=child.kind,
            prompt=prompt,
            raw=parent.raw_prompt,
            spec=child.spec,
            mode=parent.mode,
            label=child.label,
            parent_job_id=parent.id,
            parent_index=child.index,
            upload_limit=interaction.filesize_limit,
        )
        await submit(
            interaction,
            self.deps.runner,
            [submission],
            acknowledge=interaction.response.defer,
            replace_answer=False,
        )


def _without_zoom(canonical: str) -> str:
    words = canonical.split(" ")
    out: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word.lower() == "--zoom":
            skip = True
            continue
        out.append(word)
    return " ".join(out)
