"""Reference edits (MimicBrush): ``/mimic`` repaints the white region of a mask on an
uploaded or linked image, imitating a reference image.

It makes one ``Mimic`` job (``bot.jobs.mimic``) that queues like any other and is delivered
as a 2×2 grid with U1–U4, V1–V4 and 🔄, so its images can be upscaled and varied.
"""

from __future__ import annotations

from bot.deps import FeatureBot
from bot.exts.mimic.command import MimicCommand

__all__ = ["setup"]


async def setup(bot: FeatureBot) -> None:
    await bot.add_cog(MimicCommand(bot.deps))
