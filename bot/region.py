"""Vary (Region): the link to the editor, and the region job an editor submission makes."""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.web.tokens import EditGrant, sign
from db import JobKind, JobMode, QueueFullError
from engine.errors import UnknownVersionError
from engine.grid import encode_png
from engine.request import random_seed
from parser import PromptError

if TYPE_CHECKING:
    from PIL import Image

    from bot.custom_ids import ButtonId
    from bot.service import JobService

__all__ = ["open_region_editor", "submit_region"]

log = logging.getLogger(__name__)

UNAVAILABLE = (
    "The region editor is not available on this server right now (its web server did not "
    "start). Use Vary (Subtle) or Vary (Strong) for now."
)


async def open_region_editor(
    interaction: discord.Interaction[Any], service: JobService, button: ButtonId
) -> None:
    """Answer Vary (Region) with a private link to the editor for this image and user."""
    editor = service.editor
    if editor is None:
        await interaction.response.send_message(UNAVAILABLE, ephemeral=True)
        return
    from bot.preferences import load_preferences

    preferences = await load_preferences(service.db, interaction.user.id)
    minutes = service.settings.mj_edit_link_minutes
    grant = EditGrant.issue(
        button.job_id,
        button.index,
        interaction.user.id,
        remix=preferences.remix,
        ttl_s=minutes * 60,
    )
    url = f"{service.public_url}/edit/{sign(grant, editor.secret)}"
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Open the editor", emoji="🖌️", url=url))
    remix = " You can change the prompt there (Remix mode)." if preferences.remix else ""
    await interaction.response.send_message(
        f"Select the parts of image #{button.index} to redraw, then submit.{remix} "
        f"This link is yours and works once, for {minutes} minutes.",
        view=view,
        ephemeral=True,
    )


async def submit_region(
    service: JobService, grant: EditGrant, parent: Any, mask: Image.Image, prompt_text: str
) -> tuple[int, str] | None:
    """Queue the region job for an editor submission; ``(status, message)`` when refused."""
    from bot.convert import mode_of
    from bot.preferences import load_preferences
    from bot.remix import BannedPromptError, apply_edited_prompt, read_edited_prompt
    from engine.scheduler import SpeedMode

    spec = copy.deepcopy(parent.parameters.get("spec", {}))
    if not spec:
        return 409, "That job cannot be edited."
    preferences = await load_preferences(service.db, grant.user_id)
    label, shown = "Variations (Region)", parent.prompt
    mode = preferences.mode
    text = " ".join(prompt_text.split())
    if grant.remix and text and text != parent.prompt:
        try:
            prompt = read_edited_prompt(service, text, preferences.options)
        except PromptError as error:
            return 400, f"{error.msg}\n{error.render()}"
        except UnknownVersionError as error:
            return 400, str(error)
        except BannedPromptError as error:
            return 400, f"The prompt has a banned phrase: “{error.phrase}”."
        refused = await apply_edited_prompt(service, spec, prompt)
        if refused is not None:
            return 400, str(refused.description)
        label, shown = "Remix (Region)", prompt.canonical
        mode = JobMode(str(mode_of(prompt, SpeedMode(mode))))
    stored = await asyncio.to_thread(_store_mask, service, mask)
    spec.update(
        operation="region",
        source={"job": parent.id, "index": grant.index - 1},
        mask=stored,
        seeds=[random_seed() for _ in range(4)],
    )
    spec.pop("outpaint", None)
    try:
        await service.enqueue(
            user_id=grant.user_id,
            channel_id=parent.channel_id,
            guild_id=parent.guild_id,
            kind=JobKind.REGION,
            prompt=shown,
            raw=parent.raw_prompt,
            spec=spec,
            mode=mode,
            label=label,
            parent_job_id=parent.id,
            parent_index=grant.index - 1,
            job_id=grant.region_job_id,
        )
    except QueueFullError:
        return 429, "Your job queue is full. Wait for a job to finish, then submit again."
    return None


def _store_mask(service: JobService, mask: Image.Image) -> dict[str, Any]:
    stored = service.store.put(encode_png(mask), "png")
    return {"path": stored.path, "sha256": stored.sha256}
