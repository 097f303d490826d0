"""Your account and your jobs: ``/info``, ``/show``, ❌ to stop a job, ✉️ to get it in DMs."""

from __future__ import annotations

from bot.deps import FeatureBot
from bot.exts.account.controls import Controls
from bot.exts.account.info import Info
from bot.ui.routing import Placement, Surface

__all__ = ["setup"]


async def setup(bot: FeatureBot) -> None:
    await bot.add_cog(Info(bot.deps))
    controls = Controls(bot.deps)
    cancel = Placement(Surface.WAITING, 0, 0, emoji="❌")
    bot.deps.routes.add_button("cancel", controls.cancel_button, cancel)
    bot.add_listener(controls.on_raw_reaction_add)  # ❌ and ✉️ reactions
