"""The one place button and modal ``custom_id`` formats live: ``mj:<action>:<job>:<index>``.

A button carries everything needed to act on it; the rest comes from the database, so
buttons work after restarts and forever. ``index`` is 1-based (U1–U4), 1 for single images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["BUTTON_PATTERN", "Action", "ButtonId", "modal_id", "parse_modal_id"]


class Action(StrEnum):
    UPSCALE_PICK = "u"
    VARY = "v"
    REROLL = "reroll"
    UPSCALE_SUBTLE = "up_subtle"
    UPSCALE_CREATIVE = "up_creative"
    VARY_SUBTLE = "vary_subtle"
    VARY_STRONG = "vary_strong"
    VARY_REGION = "vary_region"
    ZOOM_2 = "zoom_2"
    ZOOM_1_5 = "zoom_15"
    ZOOM_CUSTOM = "zoom_custom"
    PAN_LEFT = "pan_left"
    PAN_RIGHT = "pan_right"
    PAN_UP = "pan_up"
    PAN_DOWN = "pan_down"
    MAKE_SQUARE = "square"
    DESCRIBE_PICK = "describe"
    DESCRIBE_RETRY = "describe_retry"
    DESCRIBE_ALL = "describe_all"
    CANCEL = "cancel"


BUTTON_PATTERN = r"mj:(?P<action>[a-z0-9_]+):(?P<job>[0-9a-f-]{36}):(?P<index>[0-9])"
_MODAL = re.compile(r"mjm:(?P<kind>[a-z_]+):(?P<job>[0-9a-f-]{36}):(?P<index>[0-9])")


@dataclass(frozen=True, slots=True)
class ButtonId:
    action: Action
    job_id: str
    index: int

    def __str__(self) -> str:
        return f"mj:{self.action}:{self.job_id}:{self.index}"


def modal_id(kind: str, job_id: str, index: int) -> str:
    return f"mjm:{kind}:{job_id}:{index}"


def parse_modal_id(custom_id: str) -> tuple[str, str, int] | None:
    match = _MODAL.fullmatch(custom_id)
    return (match["kind"], match["job"], int(match["index"])) if match else None
