"""Job buttons: one ``DynamicItem`` whose ``custom_id`` says what to do to which image.

No view state is kept in memory: after a restart, ``add_dynamic_items`` is all it takes for
every button on every old message to work again.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.custom_ids import BUTTON_PATTERN, Action, ButtonId

__all__ = ["JobButton", "cancel_view", "grid_view", "single_view"]

GRID_INDEXES = (1, 2, 3, 4)
PANS = (
    (Action.PAN_LEFT, "⬅️"),
    (Action.PAN_RIGHT, "➡️"),
    (Action.PAN_UP, "⬆️"),
    (Action.PAN_DOWN, "⬇️"),
)


class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=BUTTON_PATTERN):
    def __init__(
        self,
        button_id: ButtonId,
        *,
        label: str | None = None,
        emoji: str | discord.PartialEmoji | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        row: int | None = None,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, row=row, custom_id=str(button_id)
            )
        )
        self.button_id = button_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: Any
    ) -> JobButton:
        try:
            action = Action(match["action"])
        except ValueError:  # a button from a newer/older version: answered in callback
            action = Action.REROLL
        button = item if isinstance(item, discord.ui.Button) else None
        return cls(
            ButtonId(action, match["job"], int(match["index"])),
            label=button.label if button else None,
            emoji=button.emoji if button else None,
        )

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        from bot.actions import handle_button

        await handle_button(interaction, self.button_id)


def _button(
    action: Action,
    job_id: str,
    index: int,
    label: str | None = None,
    emoji: str | None = None,
    row: int = 0,
    style: discord.ButtonStyle = discord.ButtonStyle.secondary,
) -> JobButton:
    return JobButton(
        ButtonId(action, job_id, index), label=label, emoji=emoji, row=row, style=style
    )


def cancel_view(job_id: str) -> discord.ui.View:
    """❌ under a job's waiting message: its owner stops it, queued or rendering."""
    view = discord.ui.View(timeout=None)
    view.add_item(_button(Action.CANCEL, job_id, 0, emoji="❌"))
    return view


def grid_view(job_id: str, *, remix: bool = False) -> discord.ui.View:
    """U1 U2 U3 U4 🔄 / V1 V2 V3 V4, under a 2×2 grid (1 = top left, reading order); the V
    buttons are green when the job's owner has Remix mode on."""
    view = discord.ui.View(timeout=None)
    for index in GRID_INDEXES:
        view.add_item(_button(Action.UPSCALE_PICK, job_id, index, f"U{index}", row=0))
    view.add_item(_button(Action.REROLL, job_id, 0, emoji="🔄", row=0))
    style = discord.ButtonStyle.success if remix else discord.ButtonStyle.secondary
    for index in GRID_INDEXES:
        view.add_item(_button(Action.VARY, job_id, index, f"V{index}", row=1, style=style))
    return view


def single_view(
    job_id: str, index: int, square: bool, *, upscaled: bool = False
) -> discord.ui.View:
    """The row under one image: upscale, vary, zoom out, pan (and make square)."""
    view = discord.ui.View(timeout=None)
    if not upscaled:
        view.add_item(_button(Action.UPSCALE_SUBTLE, job_id, index, "Upscale (Subtle)"))
        view.add_item(_button(Action.UPSCALE_CREATIVE, job_id, index, "Upscale (Creative)"))
    view.add_item(_button(Action.VARY_SUBTLE, job_id, index, "Vary (Subtle)", "🪄"))
    view.add_item(_button(Action.VARY_STRONG, job_id, index, "Vary (Strong)", "🪄"))
    view.add_item(_button(Action.VARY_REGION, job_id, index, "Vary (Region)", "🖌️"))
    view.add_item(_button(Action.ZOOM_2, job_id, index, "Zoom Out 2x", "🔍", row=1))
    view.add_item(_button(Action.ZOOM_1_5, job_id, index, "Zoom Out 1.5x", "🔍", row=1))
    view.add_item(_button(Action.ZOOM_CUSTOM, job_id, index, "Custom Zoom", "🔍", row=1))
    if not square:
        view.add_item(_button(Action.MAKE_SQUARE, job_id, index, "Make Square", "↔️", row=1))
    for action, emoji in PANS:
        view.add_item(_button(action, job_id, index, emoji=emoji, row=2))
    return view
