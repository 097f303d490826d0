"""Image-to-image that keeps structure (issue 20): Retexture — the look from a prompt, the
structure (edges, depth, line art) from the image — and Change Background — the subject kept
pixel for pixel, the rest from a prompt. ``/retexture`` and ``/background`` take an upload or a
link; the Retexture and Change Background buttons under single images redraw that image. Each
makes a 2×2 grid job (``bot.jobs.structure``) whose U/V/🔄 work as usual."""

from __future__ import annotations

from bot.deps import FeatureBot
from bot.exts.retexture.button import BACKGROUND, RETEXTURE, StructureButtons
from bot.exts.retexture.command import StructureCommands
from bot.ui.routing import Placement, Surface

__all__ = ["BACKGROUND_PLACEMENT", "RETEXTURE_PLACEMENT", "setup"]

RETEXTURE_PLACEMENT = Placement(Surface.SINGLE, 3, 5, "Retexture", "🧱")
BACKGROUND_PLACEMENT = Placement(Surface.SINGLE, 3, 6, "Change Background", "🏞️")
"""Row 3, between Vary (Reference) and Style Transfer."""


async def setup(bot: FeatureBot) -> None:
    await bot.add_cog(StructureCommands(bot.deps))
    buttons = StructureButtons(bot.deps)
    routes = bot.deps.routes
    routes.add_button(RETEXTURE, buttons.open_retexture, RETEXTURE_PLACEMENT)
    routes.add_button(BACKGROUND, buttons.open_background, BACKGROUND_PLACEMENT)
    routes.add_form(RETEXTURE, buttons.submit_form)
    routes.add_form(BACKGROUND, buttons.submit_form)
