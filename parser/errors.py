"""Errors raised for prompts that cannot be understood, with spans into the user's text.

Every problem the parser finds is a :class:`PromptError` (or a subclass). Like
:class:`json.JSONDecodeError`, it carries the text it was reading (``source``) and the
offsets of the problem in it (``start``/``end``), so callers can show *where* the problem is;
:meth:`PromptError.render` draws the caret line for a Discord code block.

``origin`` says which text ``source`` is: the prompt the user typed (``"prompt"``) or their
``/prefer suffix`` (``"suffix"``), which is parsed on its own.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

__all__ = [
    "ConflictingParametersError",
    "DuplicateParameterError",
    "EmptyPromptError",
    "ExpansionTooLongError",
    "GluedValueError",
    "ImageOnlyPromptError",
    "InvalidURLError",
    "InvalidValueError",
    "InvalidWeightError",
    "MacroError",
    "MissingValueError",
    "OutOfRangeError",
    "PermutationError",
    "PromptError",
    "PromptTooLongError",
    "RequiresParameterError",
    "SuffixError",
    "TooManyPermutationsError",
    "UnexpectedValueError",
    "UnknownParameterError",
    "UnsupportedParameterError",
    "quote",
]

RENDER_WIDTH = 56
"""Columns of prompt shown by :meth:`PromptError.render`; fits a Discord code block on phones."""
QUOTE_LIMIT = 40
"""Characters of the user's text repeated in a message; the span shows the rest."""


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` for a message: cut to ``limit`` characters with an ellipsis, so a message
    about a 6,000-character word still fits a Discord embed (the span points at all of it)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class PromptError(ValueError):
    """A prompt that cannot be understood.

    Attributes
    ----------
    msg:
        What is wrong, in one sentence a user can act on.
    source:
        The text that was being read (the user's prompt, or their suffix).
    start, end:
        Offsets of the problem in ``source`` (``end`` is exclusive; equal for a point).
    parameter:
        The parameter's canonical long name (``"aspect"``), when the problem is about one.
    hint:
        How to fix it, when there is more to say than ``msg``.
    suggestions:
        Replacement candidates ("did you mean"), best first.
    origin:
        ``"prompt"`` or ``"suffix"``: which text ``source`` is.
    """

    def __init__(
        self,
        msg: str,
        source: str,
        start: int,
        end: int,
        *,
        parameter: str | None = None,
        hint: str | None = None,
        suggestions: Sequence[str] = (),
        origin: str = "prompt",
    ) -> None:
        super().__init__(msg)
        self.msg = msg
        self.source = source
        self.start = max(0, min(start, len(source)))
        self.end = max(self.start, min(end, len(source)))
        self.parameter = parameter
        self.hint = hint
        self.suggestions = tuple(suggestions)
        self.origin = origin

    def __str__(self) -> str:
        where = "in your suffix" if self.origin == "suffix" else "at"
        return f"{self.msg} ({where} {self.start}–{self.end})"

    def __reduce__(self) -> tuple[object, ...]:  # keep pickling (multiprocessing) working
        return (_rebuild, (type(self), self.to_dict(), self.source, self.suggestions))

    def to_dict(self) -> dict[str, object]:
        """The JSON shape ``mjbot parse --json`` prints under ``"error"``."""
        return {
            "message": self.msg,
            "start": self.start,
            "end": self.end,
            "parameter": self.parameter,
            "hint": self.hint,
            "origin": self.origin,
            "suggestions": list(self.suggestions),
        }

    def render(self, width: int = RENDER_WIDTH) -> str:
        """Two lines: a window of ``source`` around the problem, and a ``^~~~`` under it.

        The window is at most ``width`` columns; cut ends are marked with ``…``. Wide
        characters (CJK, most emoji) count as two columns so the caret stays aligned in a
        monospace font.
        """
        return _render_window(self.source, self.start, self.end, width)


def _rebuild(
    cls: type[PromptError], data: dict[str, object], source: str, suggestions: tuple[str, ...]
) -> PromptError:
    error = cls.__new__(cls)
    PromptError.__init__(
        error,
        str(data["message"]),
        source,
        int(str(data["start"])),
        int(str(data["end"])),
        parameter=data["parameter"] if isinstance(data["parameter"], str) else None,
        hint=data["hint"] if isinstance(data["hint"], str) else None,
        suggestions=suggestions,
        origin=str(data["origin"]),
    )
    return error


class EmptyPromptError(PromptError):
    """The prompt has no text and no image prompt."""


class PromptTooLongError(PromptError):
    """The prompt is longer than the configured maximum."""


class ExpansionTooLongError(PromptTooLongError):
    """``/prefer option`` macros or ``{…}`` permutations make the prompt, or all the prompts
    it expands to together, longer than allowed; the span is the macro or the braces."""


class InvalidURLError(PromptError):
    """An image or reference URL is malformed (not a fetch failure: that is the bot's)."""


class ImageOnlyPromptError(PromptError):
    """An image prompt without text breaks a rule: one image alone, or a text-only parameter."""


class InvalidWeightError(PromptError):
    """A ``::`` weight is malformed, or the weights of a multi-prompt do not sum above zero."""


class UnknownParameterError(PromptError):
    """A ``--name`` that is not a parameter; ``suggestions`` holds close names."""


class GluedValueError(UnknownParameterError):
    """A value written against its name (``--ar16:9``); ``hint`` shows the spaced form."""


class UnsupportedParameterError(UnknownParameterError):
    """A Midjourney parameter this bot knows of but does not implement."""


class InvalidValueError(PromptError):
    """A parameter's value has the wrong form (not a number, not ``W:H``, …)."""


class OutOfRangeError(InvalidValueError):
    """A parameter's value is outside its range; never clamped."""


class MissingValueError(InvalidValueError):
    """A parameter that needs a value was given none."""


class UnexpectedValueError(InvalidValueError):
    """A flag (``--tile``) was given a value, usually text that belongs before the parameters."""


class DuplicateParameterError(PromptError):
    """A parameter other than ``--no`` is given twice."""


class ConflictingParametersError(PromptError):
    """Parameters that exclude each other (``--niji``/``--v``, ``--fast``/``--relax``)."""


class RequiresParameterError(PromptError):
    """A parameter is used without the one it modifies (``--sw`` without ``--sref``)."""


class PermutationError(PromptError):
    """Braces of a ``{a, b}`` permutation do not balance, a group is empty, or groups nest
    deeper than allowed."""


class TooManyPermutationsError(PermutationError):
    """A permutation prompt expands to more prompts than allowed."""


class MacroError(PromptError):
    """A ``/prefer option`` name or value is not acceptable."""


class SuffixError(PromptError):
    """A ``/prefer suffix`` holds something other than parameters."""


def display_width(char: str) -> int:
    """Columns ``char`` takes in a monospace font: 0 for combining marks, 2 for wide ones."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _visible(char: str) -> str:
    return " " if char.isspace() or unicodedata.category(char) == "Cc" else char


def _render_window(source: str, start: int, end: int, width: int) -> str:
    widths = [display_width(c) for c in source]
    # 1. Choose the window: everything when it fits, else up to a third of the width of
    #    context before the problem and as much after it as fits beside the ellipses.
    if sum(widths) <= width:
        lo, hi = 0, len(source)
    else:
        room = width - 2  # leaves space for an ellipsis at each end
        lo, used = start, 0
        while lo > 0 and used + widths[lo - 1] <= width // 3:
            lo -= 1
            used += widths[lo]
        hi = start
        while hi < len(source) and used + widths[hi] <= room:
            used += widths[hi]
            hi += 1
        while lo > 0 and used + widths[lo - 1] <= room:  # at the end: show more before
            lo -= 1
            used += widths[lo]
    # 2. Draw the text line, marking cut ends with an ellipsis.
    text = ("…" if lo > 0 else "") + "".join(_visible(c) for c in source[lo:hi])
    if hi < len(source):
        text += "…"
    # 3. Draw the caret line: `^` under the first character, `~` under the rest that shows.
    pad = (1 if lo > 0 else 0) + sum(widths[lo:start])
    span_cols = sum(widths[start : min(end, hi)])
    return text.rstrip() + "\n" + " " * pad + "^" + "~" * max(0, span_cols - 1)
