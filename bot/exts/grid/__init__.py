"""The grid's buttons (U1–U4 🔄 / V1–V4) and the upscale row under one image (Upscale,
Vary, Zoom Out, Custom Zoom, Make Square, pans), with their Remix and Custom Zoom forms."""

from __future__ import annotations

from collections.abc import Callable

import discord

from bot.deps import FeatureBot
from bot.exts.grid.actions import CHILDREN, REMIX_FORM, ZOOM_FORM, GridActions
from bot.ui.routing import ImageContext, Placement, Surface
from engine.canvas import can_outpaint
from engine.request import OutpaintSpec, PanDirection

__all__ = ["setup"]


def _not_upscaled(context: ImageContext) -> bool:
    return not context.upscaled


def _can(spec: OutpaintSpec) -> Callable[[ImageContext], bool]:
    """Shown only where the zoom, pan or square can run on this image (a third pan the
    same way from 16:9 would pass 1:4)."""

    def shown(context: ImageContext) -> bool:
        return can_outpaint(context.width, context.height, spec)

    return shown


def _square_possible(context: ImageContext) -> bool:
    return not context.square and _can(OutpaintSpec(make_square=True))(context)


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
    "zoom_2": Placement(SINGLE, 1, 0, "Zoom Out 2x", "🔍", shown=_can(OutpaintSpec(zoom=2.0))),
    "zoom_15": Placement(SINGLE, 1, 1, "Zoom Out 1.5x", "🔍", shown=_can(OutpaintSpec(zoom=1.5))),
    "zoom_custom": Placement(SINGLE, 1, 2, "Custom Zoom", "🔍"),
    "square": Placement(SINGLE, 1, 3, "Make Square", "↔️", shown=_square_possible),
    **{
        f"pan_{direction}": Placement(
            SINGLE, 2, order, emoji=emoji, shown=_can(OutpaintSpec(pan=direction))
        )
        for order, (direction, emoji) in enumerate(
            (
                (PanDirection.LEFT, "⬅️"),
                (PanDirection.RIGHT, "➡️"),
                (PanDirection.UP, "⬆️"),
                (PanDirection.DOWN, "⬇️"),
            )
        )
    },
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
