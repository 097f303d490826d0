"""Every ``custom_id`` format the bot uses, in one place.

* ``mj:<action>:<job>:<index>`` — a button acting on image ``index`` (1-based; 0 for the
  whole job) of a job. Everything else comes from the database, so buttons work forever.
* ``mjm:<kind>:<job>:<index>`` — a form (modal) about a job's image.
* ``mjs:<setting>[:<value>]`` — a control of the ``/settings`` panel; ``mjs:version`` is its
  model select.

Discord allows 100 characters; a job id is a 36-character UUID, so every id fits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "BUTTON_PATTERN",
    "FORM_PATTERN",
    "SETTING_PATTERN",
    "VERSION_SELECT_ID",
    "ButtonId",
    "FormId",
    "setting_id",
]

BUTTON_PATTERN = r"mj:(?P<action>[a-z0-9_]+):(?P<job>[0-9a-f-]{36}):(?P<index>[0-9])"
FORM_PATTERN = r"mjm:(?P<kind>[a-z0-9_]+):(?P<job>[0-9a-f-]{36}):(?P<index>[0-9])"
SETTING_PATTERN = r"mjs:(?!version$)(?P<setting>[a-z_]+)(?::(?P<value>[a-z0-9]+))?"
VERSION_SELECT_ID = "mjs:version"
_FORM = re.compile(FORM_PATTERN)


@dataclass(frozen=True, slots=True)
class ButtonId:
    """What a job button does (``action``, registered by a feature) to which image."""

    action: str
    job_id: str
    index: int

    def __str__(self) -> str:
        return f"mj:{self.action}:{self.job_id}:{self.index}"


@dataclass(frozen=True, slots=True)
class FormId:
    """What a submitted form is for: its ``kind`` (registered by a feature), job and image."""

    kind: str
    job_id: str
    index: int

    def __str__(self) -> str:
        return f"mjm:{self.kind}:{self.job_id}:{self.index}"

    @classmethod
    def parse(cls, custom_id: str) -> FormId | None:
        match = _FORM.fullmatch(custom_id)
        return cls(match["kind"], match["job"], int(match["index"])) if match else None


def setting_id(setting: str, value: str | None = None) -> str:
    return f"mjs:{setting}:{value}" if value is not None else f"mjs:{setting}"
