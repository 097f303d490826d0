"""Forms (modals): a one-field prompt form, and reading what a submission typed.

A form's ``custom_id`` (``mjm:<kind>:<job>:<index>``) says what it is for; its submission is
handled from that id and the typed values alone (see ``bot.ui.routing``), so a form opened
before a restart still works after it.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.ui.custom_ids import FormId

__all__ = ["PROMPT_FIELD", "PROMPT_FORM_MAX", "prompt_form", "submitted_values"]

PROMPT_FIELD = "prompt"
PROMPT_FORM_MAX = 4000
"""Discord's limit for a text input."""
FORM_LIFETIME_S = 15 * 60
"""How long discord.py keeps a sent modal object (unused by us: submissions go by id)."""


def prompt_form(form: FormId, *, title: str, label: str, default: str) -> discord.ui.Modal:
    """A one-field prompt form (the field is :data:`PROMPT_FIELD`)."""
    modal = discord.ui.Modal(title=title, custom_id=str(form), timeout=FORM_LIFETIME_S)
    modal.add_item(
        discord.ui.TextInput(
            label=label[:45],
            style=discord.TextStyle.long,
            max_length=PROMPT_FORM_MAX,
            default=default[:PROMPT_FORM_MAX],
            custom_id=PROMPT_FIELD,
        )
    )
    return modal


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
