"""What each job button does: a child job (vary, upscale, zoom, pan…) or, for U, the image."""

from __future__ import annotations

import asyncio
import copy
import io
import logging
from typing import TYPE_CHECKING, Any

import discord

from bot import texts
from bot.buttons import single_view
from bot.custom_ids import Action, ButtonId
from bot.errors import job_or_reply, prompt_error_embed, reply_admission_error, send_embed
from bot.jobspec import spec_from_prompt
from bot.modals import prompt_modal
from bot.preferences import load_preferences
from bot.remix import BannedPromptError, apply_edited_prompt, read_edited_prompt
from db import JobKind, JobMode, QueueFullError, Variability
from engine.errors import UnknownVersionError
from engine.request import random_seed
from parser import PromptError, parse_one

if TYPE_CHECKING:
    from bot.service import JobService

__all__ = ["handle_button"]

log = logging.getLogger(__name__)

DESCRIBE_ACTIONS = frozenset({Action.DESCRIBE_PICK, Action.DESCRIBE_RETRY, Action.DESCRIBE_ALL})
REMIXABLE = frozenset(
    {
        Action.VARY,
        Action.REROLL,
        Action.VARY_SUBTLE,
        Action.VARY_STRONG,
        Action.PAN_LEFT,
        Action.PAN_RIGHT,
        Action.PAN_UP,
        Action.PAN_DOWN,
    }
)
"""Buttons that open the Remix form when the presser has Remix mode on."""
PAN_LABELS = {
    Action.PAN_LEFT: ("left", "Pan Left"),
    Action.PAN_RIGHT: ("right", "Pan Right"),
    Action.PAN_UP: ("up", "Pan Up"),
    Action.PAN_DOWN: ("down", "Pan Down"),
}


async def handle_button(interaction: discord.Interaction[Any], button: ButtonId) -> None:
    service: JobService = interaction.client.service
    if not service.accepting:
        await interaction.response.send_message(
            "The bot is restarting; press it again in a minute.", ephemeral=True
        )
        return
    if button.action is Action.CANCEL:
        from bot.controls import cancel_button

        await cancel_button(interaction, service, button)
        return
    if button.action in DESCRIBE_ACTIONS:
        from bot.describe import handle_describe_button

        await handle_describe_button(interaction, service, button)
        return
    if button.action is Action.VARY_REGION:
        from bot.region import open_region_editor

        await open_region_editor(interaction, service, button)
        return
    if button.action is Action.ZOOM_CUSTOM:
        await _open_prompt_form(
            interaction,
            service,
            button,
            "zoom",
            title="Custom Zoom",
            label="Prompt (change --zoom 1–2, and --ar if you like)",
            suffix=" --zoom 2",
        )
        return
    variability = Variability.HIGH
    if button.action in REMIXABLE:  # the presser's settings decide
        preferences = await load_preferences(service.db, interaction.user.id)
        if preferences.remix:
            await _open_prompt_form(
                interaction,
                service,
                button,
                f"remix_{button.action}",
                title="Remix Prompt",
                label=f"New prompt for image #{button.index}" if button.index else "New prompt",
            )
            return
        variability = preferences.variability
    await interaction.response.defer()  # acknowledge first: the rest may take a moment
    parent = await job_or_reply(interaction, service.db, button.job_id, with_images=True)
    if parent is None:
        return
    if button.action is Action.UPSCALE_PICK:
        await _show_single(interaction, service, parent, button.index)
        return
    child = _child_spec(parent, button, variability)
    if child is None:
        await interaction.followup.send("That button no longer does anything.", ephemeral=True)
        return
    kind, label, spec, index = child
    await _enqueue_child(interaction, service, parent, kind, label, spec, index)


def _child_spec(
    parent: Any, button: ButtonId, variability: Variability = Variability.HIGH
) -> tuple[JobKind, str | None, dict[str, Any], int | None] | None:
    """The child job a button makes: (kind, label, spec, 0-based source index). V follows
    the presser's variation mode (High: strong, Low: subtle); Vary (…) buttons do not."""
    base = copy.deepcopy(parent.parameters.get("spec", {}))
    if not base:
        return None
    index = button.index - 1
    action = button.action
    if action is Action.REROLL:
        base["seeds"] = [random_seed() for _ in base["seeds"]]
        kind = JobKind.REROLL if base["operation"] == "imagine" else JobKind(parent.kind)
        return kind, parent.parameters.get("label"), base, parent.parent_index
    base["source"] = {"job": parent.id, "index": index}
    base.pop("outpaint", None)
    if action in (Action.VARY, Action.VARY_SUBTLE, Action.VARY_STRONG):
        low = action is Action.VARY and variability is Variability.LOW
        strength = "subtle" if action is Action.VARY_SUBTLE or low else "strong"
        spec = {**base, "operation": "variation", "strength": strength, "seeds": _seeds(4)}
        return JobKind.VARIATION, f"Variations ({strength.title()})", spec, index
    if action in (Action.UPSCALE_SUBTLE, Action.UPSCALE_CREATIVE):
        strength = "subtle" if action is Action.UPSCALE_SUBTLE else "strong"
        label = "Upscaled (Subtle)" if strength == "subtle" else "Upscaled (Creative)"
        spec = {**base, "operation": "upscale", "strength": strength, "seeds": _seeds(1)}
        return JobKind.UPSCALE, label, spec, index
    if action in (Action.ZOOM_2, Action.ZOOM_1_5):
        zoom = 2.0 if action is Action.ZOOM_2 else 1.5
        spec = {**base, "operation": "outpaint", "outpaint": {"zoom": zoom}, "seeds": _seeds(4)}
        return JobKind.OUTPAINT, "Zoom Out", spec, index
    if action in PAN_LABELS:
        direction, label = PAN_LABELS[action]
        spec = {**base, "operation": "outpaint", "outpaint": {"pan": direction}, "seeds": _seeds(4)}
        return JobKind.OUTPAINT, label, spec, index
    if action is Action.MAKE_SQUARE:
        spec = {
            **base,
            "operation": "outpaint",
            "outpaint": {"make_square": True},
            "seeds": _seeds(4),
        }
        return JobKind.OUTPAINT, "Make Square", spec, index
    return None


def _seeds(count: int) -> list[int]:
    return [random_seed() for _ in range(count)]


async def _enqueue_child(
    interaction: discord.Interaction[Any],
    service: JobService,
    parent: Any,
    kind: JobKind,
    label: str | None,
    spec: dict[str, Any],
    index: int | None,
    prompt: str | None = None,
) -> None:
    try:
        admission = await service.enqueue(
            user_id=interaction.user.id,
            channel_id=interaction.channel_id or parent.channel_id,
            guild_id=interaction.guild_id,
            kind=kind,
            prompt=prompt or parent.prompt,
            raw=parent.raw_prompt,
            spec=spec,
            mode=JobMode(parent.mode),
            label=label,
            parent_job_id=parent.id,
            parent_index=index,
            upload_limit=interaction.filesize_limit,
        )
    except QueueFullError as error:
        await reply_admission_error(interaction, error)
        return
    if admission.held:
        await interaction.followup.send(
            embed=texts.error_embed("Job queued", texts.JOB_QUEUED, warning=True), ephemeral=True
        )


async def _show_single(
    interaction: discord.Interaction[Any], service: JobService, parent: Any, number: int
) -> None:
    """U<n>: the image alone, full size, with the upscale row (no GPU work)."""
    image = next((i for i in parent.images if i.index == number - 1), None)
    if image is None:
        await interaction.followup.send("That image is not available.", ephemeral=True)
        return
    channel = interaction.channel or service.client.get_partial_messageable(parent.channel_id)
    limit = interaction.filesize_limit
    encoded = await asyncio.to_thread(_encode_stored, service, image.path, image.sha256, limit)
    view = single_view(parent.id, number, image.width == image.height)
    await channel.send(  # type: ignore[union-attr]
        texts.single_image_text(parent.prompt, number, interaction.user.id),
        file=discord.File(
            io.BytesIO(encoded.data), filename=f"{parent.id}_{number}{encoded.extension}"
        ),
        view=view,
        allowed_mentions=discord.AllowedMentions(users=True),
    )


def _encode_stored(service: JobService, path: str, sha256: str, limit: int) -> Any:
    from engine.grid import encode_to_fit

    return encode_to_fit(service.read_image(path, sha256), limit)


async def submit_custom_zoom(
    interaction: discord.Interaction[Any],
    service: JobService,
    job_id: str,
    index: int,
    text: str,
) -> None:
    """The Custom Zoom form was sent: a zoom-out of image ``index`` with the new prompt."""
    try:
        prompt = parse_one(text, allow_zoom=True)
    except PromptError as error:
        await interaction.response.send_message(
            embed=prompt_error_embed(error, f"Custom Zoom: {text}"), ephemeral=True
        )
        return
    await interaction.response.defer()
    parent = await job_or_reply(interaction, service.db, job_id)
    if parent is None:
        return
    spec = copy.deepcopy(parent.parameters.get("spec", {}))
    spec.update(
        operation="outpaint",
        seeds=_seeds(4),
        source={"job": parent.id, "index": index - 1},
        prompt=[[p.text, p.weight] for p in prompt.parts] or spec["prompt"],
        outpaint={
            "zoom": prompt.params.zoom or 2.0,
            "aspect": list(prompt.params.aspect) if prompt.params.aspect else None,
        },
    )
    await _enqueue_child(
        interaction,
        service,
        parent,
        JobKind.OUTPAINT,
        "Zoom Out",
        spec,
        index - 1,
        prompt=_without_zoom(prompt.canonical),
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


async def _open_prompt_form(
    interaction: discord.Interaction[Any],
    service: JobService,
    button: ButtonId,
    kind: str,
    *,
    title: str,
    label: str,
    suffix: str = "",
) -> None:
    """A form with the job's prompt (plus ``suffix``) to edit; see ``bot/modals.py``."""
    parent = await job_or_reply(interaction, service.db, button.job_id)
    if parent is not None:
        default = f"{parent.prompt}{suffix}"
        await interaction.response.send_modal(
            prompt_modal(
                kind, button.job_id, button.index, title=title, label=label, default=default
            )
        )


async def submit_remix(
    interaction: discord.Interaction[Any], service: JobService, button: ButtonId, text: str
) -> None:
    """A Remix form was sent: the button's child job, with the edited prompt."""
    preferences = await load_preferences(service.db, interaction.user.id)
    try:
        prompt = read_edited_prompt(service, text, preferences.options)
    except PromptError as error:
        await send_embed(interaction, prompt_error_embed(error, f"Remix: {text}"))
        return
    except UnknownVersionError as error:
        await send_embed(interaction, texts.error_embed("Invalid parameter", str(error)))
        return
    except BannedPromptError as error:
        banned = texts.BANNED.format(phrase=error.phrase)
        await send_embed(interaction, texts.error_embed("Banned prompt detected", banned))
        return
    await interaction.response.defer()
    parent = await job_or_reply(interaction, service.db, button.job_id, with_images=True)
    if parent is None:
        return
    child = _child_spec(parent, button, preferences.variability)
    if child is None:
        await interaction.followup.send("That button no longer does anything.", ephemeral=True)
        return
    kind, label, spec, index = child
    if spec["operation"] == "imagine":  # a reroll: a new prompt may also change the shape
        edited = spec_from_prompt(prompt)
        spec["aspect"] = edited["aspect"]
        if prompt.params.seed is not None:
            spec["seeds"] = edited["seeds"]
    refused = await apply_edited_prompt(service, spec, prompt)
    if refused is not None:
        await interaction.followup.send(embed=refused, ephemeral=True)
        return
    if label and label.startswith("Variations"):
        label = label.replace("Variations", "Remix")
    await _enqueue_child(
        interaction, service, parent, kind, label, spec, index, prompt=prompt.canonical
    )
