"""Style transfer (issue 17): ``/transfer`` restyles an uploaded or linked image like another,
and a 🎨 Style Transfer button under every single image restyles that image.

Both make one ``Transfer`` job (``bot.jobs.transfer``) that queues like any other and is
delivered as a single image with the upscale row, so it can be upscaled, varied and zoomed.
"""

from __future__ import annotations

from bot.deps import FeatureBot
from bot.exts.transfer.button import ACTION, FORM, TransferButton
from bot.exts.transfer.command import TransferCommand
from bot.ui.routing import Placement, Surface

__all__ = ["PLACEMENT", "setup"]

PLACEMENT = Placement(Surface.SINGLE, 3, 10, "Style Transfer", "🎨")
"""After the pans (the upscale row's first two rows are full)."""


async def setup(bot: FeatureBot) -> None:
    await bot.add_cog(TransferCommand(bot.deps))
    button = TransferButton(bot.deps)
    bot.deps.routes.add_button(ACTION, button.open_form, PLACEMENT)
    bot.deps.routes.add_form(FORM, button.submit_form)
