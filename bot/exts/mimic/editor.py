"""``/mimic`` without a mask: the image and the reference are fetched and stored now, kept as
one finished job's two images (the image #1, the reference #2), and the answer (only to the
user) links to the region editor's Vary (Reference) for image #1 with the reference offered.

The editor belongs to the region feature; this feature finds it by its cog's name
(``RegionEditor``) and the methods it offers, without importing it, so either feature can be
left out: without the editor, ``/mimic`` asks for a mask.
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Any, Protocol

import discord

from bot.deps import Deps
from bot.errors import UserError
from bot.jobs.records import JobParameters
from bot.jobs.references import SAME_MIMIC_IMAGES
from bot.jobs.spec import JobSpec, PromptSettings, ReferenceSpec
from db import JobKind, NewImage, NewJob
from db import jobs as repo

__all__ = ["EDITOR_COG", "NO_EDITOR", "open_editor"]

EDITOR_COG = "RegionEditor"
NO_EDITOR = (
    "The region editor is not available on this server right now: attach a mask (a PNG of the "
    "image's size, white = repaint) to /mimic instead."
)
LABEL = "Images for Vary (Reference)"


class ReferenceEditor(Protocol):
    """What ``/mimic`` needs of the region feature's cog."""

    def reference_link(
        self, job_id: str, index: int, user_id: int, *, preset: int | None, keep_shape: bool
    ) -> discord.ui.View | None: ...

    def link_terms(self) -> str: ...


async def open_editor(
    deps: Deps,
    interaction: discord.Interaction[Any],
    image: ReferenceSpec,
    reference: ReferenceSpec,
    *,
    prompt: str,
    keep_shape: bool,
) -> None:
    """Store both images as one job and answer with a Vary (Reference) link for the image."""
    editor = _editor(deps)
    if editor is None:
        raise UserError(NO_EDITOR, title="Attach a mask")
    await interaction.response.defer(ephemeral=True, thinking=True)
    fetch = deps.runner.references.fetch
    stored = [await fetch(image), await fetch(reference)]
    if stored[0].file == stored[1].file:
        raise UserError(SAME_MIMIC_IMAGES, title="Identical images")
    job_id = str(uuid.uuid4())
    spec = JobSpec(settings=PromptSettings(), seeds=(0,))
    new = NewJob(
        id=job_id,
        user_id=interaction.user.id,
        kind=JobKind.MIMIC,
        prompt=prompt,
        raw_prompt=prompt,
        parameters=JobParameters(spec=spec, label=LABEL).to_json(),
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
    )
    async with deps.db.session() as session:
        await repo.record_instant_job(session, new)
        await repo.attach_images(session, job_id, [_image(i, s) for i, s in enumerate(stored)])
    view = editor.reference_link(job_id, 1, interaction.user.id, preset=1, keep_shape=keep_shape)
    if view is None:
        raise UserError(NO_EDITOR, title="Attach a mask")
    await interaction.followup.send(
        "Select the parts of your image to repaint in the editor; your reference is chosen "
        f"there already (you can change it). {editor.link_terms()}",
        view=view,
        ephemeral=True,
    )


def _editor(deps: Deps) -> ReferenceEditor | None:
    client = deps.client
    cog = client.get_cog(EDITOR_COG) if isinstance(client, discord.ext.commands.Bot) else None
    if cog is None or not getattr(cog, "listening", False):
        return None
    return cog  # type: ignore[return-value]  # checked by name and state: see the docstring


def _image(index: int, stored: ReferenceSpec) -> NewImage:
    assert stored.file is not None  # noqa: S101 - fetched and stored above
    assert stored.width is not None and stored.height is not None  # noqa: S101, PT018
    format_ = PurePosixPath(stored.file.path).suffix.lstrip(".") or "png"
    return NewImage(
        index, stored.width, stored.height, stored.file.path, stored.file.sha256, format_
    )
