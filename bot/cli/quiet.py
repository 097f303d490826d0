"""Quieting the ML libraries: we draw our own progress and report our own warnings."""

from __future__ import annotations

import os

__all__ = ["quiet_third_party"]


def quiet_third_party() -> None:
    """Hide diffusers' and transformers' own progress bars and chatter (imports them: call it
    off the event loop)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    import diffusers.utils.logging as diffusers_logging
    import transformers.utils.logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
