"""``/portrait``: FaceChain-style portraits — learn a face from a few photos, then portraits
of that person in styles, ranked by likeness (``commands``); a finished training posts its
aligned crops and records the portrait (``ready``)."""

from __future__ import annotations

from bot.deps import FeatureBot
from bot.exts.portrait.commands import PortraitCommands
from bot.exts.portrait.ready import TrainedPoster
from db import JobKind

__all__ = ["setup"]


async def setup(bot: FeatureBot) -> None:
    await bot.add_cog(PortraitCommands(bot.deps))
    trained = TrainedPoster(bot.deps)
    bot.deps.runner.delivery.add_poster(JobKind.TRAINING, trained, trained.record)
