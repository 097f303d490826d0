"""Modals (Custom Zoom, /describe's prompt picks): restart-proof, like the buttons.

A modal's ``custom_id`` (``mjm:<kind>:<job>:<index>``) says what it is for, and its submission
is handled from that id and the typed values alone, in :func:`on_modal_submit` (the bot's
``on_interaction``). Nothing is kept in memory between opening and submitting a modal, so a
form opened before a restart still works after it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.custom_ids import modal_id, parse_modal_id
from bot.errors import incident

if TYPE_CHECKING:
    from bot.service import JobService

__all__ = ["PROMPT_FIELD", "on_modal_submit", "prompt_modal"]

log = logging.getLogger(__name__)

PROMPT_FIELD = "prompt"
MODAL_LIFETIME_S = 15 * 60
"""How long discord.py keeps a sent modal object (unused by us: submissions go by id)."""


def prompt_modal(
    kind: str, job_id: str, index: int, *, title: str, label: str, default: str
) -> discord.ui.Modal:
    """A one-field prompt form whose submission comes back to :func:`on_modal_submit`."""
    modal = discord.ui.Modal(
        title=title, custom_id=modal_id(kind, job_id, index), timeout=MODAL_LIFETIME_S
    )
    modal.add_item(
        discord.ui.TextInput(
            label=label,
            style=discord.TextStyle.long,
            max_length=4000,
            default=default,
            custom_id=PROMPT_FIELD,
        )
    )
    return modal


async def on_modal_submit(interaction: discord.Interaction[Any], service: JobService) -> None:
    """Route a submitted ``mjm:`` modal to its handler; other modals are not ours."""
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    parsed = parse_modal_id(custom_id)
    if parsed is None:
        return
    kind, job_id, index = parsed
    text = submitted_values(interaction).get(PROMPT_FIELD, "")
    try:
        if kind == "zoom":
            from bot.actions import submit_custom_zoom

            await submit_custom_zoom(interaction, service, job_id, index, text)
        elif kind.startswith("remix_"):
            from bot.actions import submit_remix
            from bot.custom_ids import Action, ButtonId

            button = ButtonId(Action(kind.removeprefix("remix_")), job_id, index)
            await submit_remix(interaction, service, button, text)
        elif kind == "describe":
            from bot.commands import imagine_text

            await imagine_text(interaction, service, text)
        else:
            log.warning("modal %s: unknown kind", custom_id)
            await interaction.response.send_message(
                "That form no longer does anything.", ephemeral=True
            )
    except Exception as error:
        await incident(interaction, error)


def submitted_values(interaction: discord.Interaction[Any]) -> dict[str, str]:
    """``custom_id → value`` of a modal submission's text inputs (in action rows or labels)."""
    values: dict[str, str] = {}
    data: dict[str, Any] = dict(interaction.data or {})
    pending: list[Any] = list(data.get("components", []))
    while pending:
        component = pending.pop()
        if not isinstance(component, dict):
            continue
        if "value" in component and "custom_id" in component:
            values[str(component["custom_id"])] = str(component["value"])
        pending.extend(component.get("components", []))
        if "component" in component:
            pending.append(component["component"])
    return values
