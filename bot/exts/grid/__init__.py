"""The grid's buttons (U1–U4 🔄 / V1–V4) and the upscale row under one image (Upscale,
Vary, Zoom Out, Custom Zoom, Make Square, pans), with their Remix and Custom Zoom forms."""

from __future__ import annotations

import discord

from bot.deps import FeatureBot
from bot.exts.grid.actions import CHILDREN, REMIX_FORM, ZOOM_FORM, GridActions
from bot.ui.routing import ImageContext, Placement, Surface

__all__ = ["setup"]


def _not_upscaled(context: ImageContext) -> bool:
    return not context.upscaled


def _not_square(context: ImageContext) -> bool:
    return not context.square


def _green_with_remix(context: ImageContext) -> discord.ButtonStyle:
    return discord.ButtonStyle.success if context.remix else discord.ButtonStyle.secondary


GRID, SINGLE = Surface.GRID, Surface.SINGLE
PLACEMENTS = {
    "u": Placement(GRID, 0, 0, "U{n}", per_image=True),
    "reroll": Placement(GRID, 0, 10, emoji="🔄"),
    "v": Placement(GRID, 1, 0, "V{n}", per_image=True, style=_green_with_remix),
    "up_subtle": Placement(SINGLE, 0, 0, "Upscale (Subtle)", shown=_not_upscaled),
    "up_creative": Placement(SINGLE, 0, 1, "Upscale (Creative)", shown=_not_upscaled),
    "vary_subtle": Placement(SINGLE, 0, 2, "Vary (Subtle)", "🪄"),
    "vary_strong": Placement(SINGLE, 0, 3, "Vary (Strong)", "🪄"),
    "zoom_2": Placement(SINGLE, 1, 0, "Zoom Out 2x", "🔍"),
    "zoom_15": Placement(SINGLE, 1, 1, "Zoom Out 1.5x", "🔍"),
    "zoom_custom": Placement(SINGLE, 1, 2, "Custom Zoom", "🔍"),
    "square": Placement(SINGLE, 1, 3, "Make Square", "↔️", shown=_not_square),
    "pan_left": Placement(SINGLE, 2, 0, emoji="⬅️"),
    "pan_right": Placement(SINGLE, 2, 1, emoji="➡️"),
    "pan_up": Placement(SINGLE, 2, 2, emoji="⬆️"),
    "pan_down": Placement(SINGLE, 2, 3, emoji="⬇️"),
}


async def setup(bot: FeatureBot) -> None:
    routes = bot.deps.routes
    actions = GridActions(bot.deps)
    routes.add_button("u", actions.show_image, PLACEMENTS["u"])
    routes.add_button("zoom_custom", actions.open_custom_zoom, PLACEMENTS["zoom_custom"])
    for action, child in CHILDREN.items():
        routes.add_button(action, actions.press, PLACEMENTS[action])
        if child.remixable:
            routes.add_form(f"{REMIX_FORM}{action}", actions.submit_remix)
    routes.add_form(ZOOM_FORM, actions.submit_custom_zoom)
