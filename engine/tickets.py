"""What the fair scheduler queues: tickets, their speed modes and tiers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["MODE_TIERS", "TIER_COUNT", "SpeedMode", "Ticket"]

TIER_COUNT = 4


class SpeedMode(StrEnum):
    """A job's GPU speed mode, as in Midjourney's /turbo, /fast and /relax."""

    FAST = "fast"
    RELAX = "relax"
    TURBO = "turbo"


MODE_TIERS = {SpeedMode.TURBO: 1, SpeedMode.FAST: 2, SpeedMode.RELAX: 3}


@dataclass(frozen=True, slots=True)
class Ticket:
    """One queued job as the scheduler sees it.

    Attributes:
        job_id: unique among queued tickets.
        user_id: whose turn this ticket spends.
        mode: the job's speed mode; picks its tier.
        interactive: a cheap follow-up (upscale, region edit) the user is waiting on.
        cost: estimated GPU seconds, > 0; advances the user's virtual clock when served.
    """

    job_id: str
    user_id: str
    mode: SpeedMode
    interactive: bool = False
    cost: float = 1.0

    @property
    def tier(self) -> int:
        """The tier this ticket is served in before aging; 0 is served first."""
        if self.interactive and self.mode != SpeedMode.RELAX:
            return 0
        return MODE_TIERS[self.mode]
