"""The one mapping between the three words for a job's speed: the prompt's ``--fast/--relax/
--turbo`` (``parser.Mode``), the stored ``db.JobMode`` and the scheduler's ``engine.SpeedMode``.

They are separate types because ``parser``, ``db`` and ``engine`` never import each other; the
bot is where they meet, here and nowhere else.
"""

from __future__ import annotations

from db import JobMode
from engine.scheduler import SpeedMode
from parser import Mode, Prompt

__all__ = ["job_mode", "speed_mode"]

_FROM_PROMPT = {Mode.FAST: JobMode.FAST, Mode.RELAX: JobMode.RELAX, Mode.TURBO: JobMode.TURBO}
_TO_ENGINE = {
    JobMode.FAST: SpeedMode.FAST,
    JobMode.RELAX: SpeedMode.RELAX,
    JobMode.TURBO: SpeedMode.TURBO,
}


def job_mode(prompt: Prompt, default: JobMode = JobMode.FAST) -> JobMode:
    """The prompt's ``--fast/--relax/--turbo``, else the user's ``default``."""
    mode = prompt.params.mode
    return _FROM_PROMPT[mode] if mode is not None else default


def speed_mode(mode: JobMode) -> SpeedMode:
    return _TO_ENGINE[mode]
