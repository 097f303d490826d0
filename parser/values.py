"""Converters: a parameter's value text → a typed value, or a :class:`ValueProblem`.

Each converter takes the value as typed (whitespace collapsed) and its
:class:`~parser.specs.ParamSpec`. A :class:`ValueProblem` says what is wrong; the parser turns it
into a :class:`~parser.errors.PromptError` that points at the value in the user's text.
Messages say ``{name}`` where the parameter's name, as the user typed it, goes, and quote at
most a few dozen characters of what the user typed (:func:`~parser.errors.quote`).
"""

from __future__ import annotations

import difflib
import math
import re
from fractions import Fraction
from typing import Any, Protocol

from parser.errors import (
    InvalidValueError,
    MissingValueError,
    OutOfRangeError,
    PromptError,
    UnexpectedValueError,
    quote,
)
from parser.prompt import Niji


class ParamSpec(Protocol):
    """What a converter reads of its parameter's spec (``parser.specs.ParamSpec``)."""

    @property
    def key(self) -> str: ...
    @property
    def values(self) -> str: ...
    @property
    def low(self) -> float | None: ...
    @property
    def high(self) -> float | None: ...
    @property
    def choices(self) -> tuple[str, ...]: ...
    @property
    def constant(self) -> Any: ...


__all__ = [
    "INTEGER",
    "MAX_ASPECT",
    "MAX_ASPECT_SIDE",
    "NIJI_STYLES",
    "NUMBER",
    "STYLES",
    "ParamSpec",
    "ValueProblem",
    "finite_number",
    "to_aspect",
    "to_choice",
    "to_flag",
    "to_float",
    "to_int",
    "to_list",
    "to_niji",
    "to_quality",
    "to_style",
    "whole_number",
]

# Patterns over what users type match each text one way only, with possessive quantifiers
# (`++`, `*+`): an ambiguous one (`\d*\.?\d+`) backtracks polynomially over a long run of
# digits, and one 6,000-character word then takes seconds (or, for `--ar`, minutes).
NUMBER = re.compile(r"[+-]?(?:\d++(?:\.\d*+)?+|\.\d++)")
INTEGER = re.compile(r"[+-]?\d++")
_DECIMAL = r"(?:\d++(?:\.\d++)?+|\.\d++)"
_WHOLE_RATIO = re.compile(r"(\d++):(\d++)")
_DECIMAL_RATIO = re.compile(f"({_DECIMAL}):({_DECIMAL})")
_OTHER_RATIO = re.compile(r"(\d++)[x×/:](\d++)")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*+")
MAX_INT_DIGITS = 20
"""More digits than any range in the table needs; longer numbers are out of range unread
(``int()`` refuses over 4,300 digits and is quadratic below that)."""
MAX_ASPECT = 4.0
"""The longer side of ``--ar`` may be at most this many times the shorter (1:4 to 4:1); the
engine carries the same limit (``engine.sizes.MAX_ASPECT``)."""
MAX_ASPECT_SIDE = 100_000
"""The largest number on either side of ``--ar`` (``1920:1080`` is fine)."""
STYLES = ("raw",)
NIJI_STYLES = ("cute", "expressive", "original", "scenic")
"""Midjourney's niji styles: only with ``--niji``."""
_VERSION_ALIASES = {"5.0": "5", "6.0": "6", "7.0": "7"}


class ValueProblem(Exception):
    """Raised by converters; ``within`` narrows the span to part of the value."""

    def __init__(
        self,
        message: str,
        kind: type[PromptError] = InvalidValueError,
        hint: str | None = None,
        within: tuple[int, int] | None = None,
        suggestions: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.hint = hint
        self.within = within
        self.suggestions = suggestions


def _one_value(raw: str) -> str:
    """The value, which must be a single word; extra words usually are misplaced prompt text."""
    if not raw:
        raise ValueProblem("{name} needs a value", MissingValueError)
    first, _, rest = raw.partition(" ")
    if rest:
        raise ValueProblem(
            f"{{name}} takes one value, but got “{quote(raw)}”",
            hint=f"Text after a parameter becomes its value: move “{quote(rest)}” before the "
            "parameters.",
            within=(len(first) + 1, len(raw)),
        )
    return first


def _in_range(value: float, spec: ParamSpec, word: str) -> None:
    if spec.low is None or spec.high is None:
        raise TypeError(f"{spec.key} has no range in the parameter table")
    if not spec.low <= value <= spec.high:
        raise _out_of_range(spec, _fmt(value) if len(word) <= MAX_INT_DIGITS else quote(word))


def _out_of_range(spec: ParamSpec, shown: str) -> ValueProblem:
    return ValueProblem(
        f"{{name}} must be between {spec.values.replace('–', ' and ')}, not {shown}",
        OutOfRangeError,
    )


def _fmt(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return str(int(value)) if value.is_integer() else repr(value)


def finite_number(text: str) -> float | None:
    """``text`` (matching :data:`NUMBER`) as a float, or ``None`` when too large for one."""
    value = float(text)
    return value if math.isfinite(value) else None


def to_int(raw: str, spec: ParamSpec) -> int:
    word = _one_value(raw)
    if not INTEGER.fullmatch(word):
        if NUMBER.fullmatch(word):
            raise ValueProblem(f"{{name}} takes a whole number ({spec.values}), not {quote(word)}")
        raise ValueProblem(f"{{name}} takes a number ({spec.values}), not “{quote(word)}”")
    magnitude = whole_number(word.lstrip("+-"))
    if magnitude is None:
        raise _out_of_range(spec, quote(word))
    value = -magnitude if word.startswith("-") else magnitude
    _in_range(value, spec, word)
    return value


def whole_number(digits: str) -> int | None:
    """``digits`` as an int, or ``None`` past :data:`MAX_INT_DIGITS` significant digits
    (``int()`` refuses over 4,300 digits, leading zeros included)."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= MAX_INT_DIGITS else None


def to_float(raw: str, spec: ParamSpec) -> float:
    word = _one_value(raw)
    if not NUMBER.fullmatch(word):
        raise ValueProblem(f"{{name}} takes a number ({spec.values}), not “{quote(word)}”")
    value = float(word)  # a huge number reads as inf: out of range below
    _in_range(value, spec, word)
    return value


def to_quality(raw: str, spec: ParamSpec) -> float:
    word = _one_value(raw)
    allowed = [float(c) for c in spec.choices]
    if NUMBER.fullmatch(word) and float(word) in allowed:
        return float(word)
    raise ValueProblem(
        f"{{name}} must be one of {', '.join(spec.choices)}, not “{quote(word)}”",
        OutOfRangeError,
    )


def to_aspect(raw: str, spec: ParamSpec) -> tuple[int, int]:
    word = _one_value(raw)
    whole = _WHOLE_RATIO.fullmatch(word)
    if whole:
        width, height = whole_number(whole[1]), whole_number(whole[2])
        if width is None or height is None or max(width, height) > MAX_ASPECT_SIDE:
            raise ValueProblem(
                f"{{name}} sides go up to {MAX_ASPECT_SIDE}, not {quote(word)}", OutOfRangeError
            )
        if width == 0 or height == 0:
            message = f"{{name}} sides must be positive, not {quote(word)}"
            raise ValueProblem(message, OutOfRangeError)
        if max(width, height) > MAX_ASPECT * min(width, height):
            limit = f"{MAX_ASPECT:g}"
            raise ValueProblem(
                f"{{name}} must be between 1:{limit} and {limit}:1, not {word}",
                OutOfRangeError,
                hint=f"Use a ratio whose longer side is at most {limit} times the shorter.",
            )
        return width, height
    decimal = _DECIMAL_RATIO.fullmatch(word)
    if decimal:
        raise ValueProblem(
            f"{{name}} takes whole numbers only, not {quote(word)}",
            hint=_whole_ratio_hint(decimal[1], decimal[2], word),
        )
    other = _OTHER_RATIO.fullmatch(word)
    hint = (
        f"Write it as {other[1]}:{other[2]}."
        if other and len(word) <= MAX_INT_DIGITS
        else "Write it as W:H, like 16:9."
    )
    raise ValueProblem(f"{{name}} takes a ratio W:H, not “{quote(word)}”", hint=hint)


def _whole_ratio_hint(width: str, height: str, word: str) -> str:
    """``Use 139:100 instead of 1.39:1.``: the same ratio in whole numbers (the nearest one
    with sides up to :data:`MAX_ASPECT_SIDE` when the exact one needs more)."""
    if len(word) > MAX_INT_DIGITS:
        return "Write it with whole numbers, like 139:100 for 1.39:1."
    ratio = Fraction(width) / Fraction(height) if Fraction(height) else Fraction(0)
    if ratio <= 0:
        return "Write it with positive whole numbers, like 139:100 for 1.39:1."
    if max(ratio.numerator, ratio.denominator) > MAX_ASPECT_SIDE:
        ratio = ratio.limit_denominator(int(MAX_ASPECT_SIDE / max(MAX_ASPECT, float(ratio))))
    return f"Use {ratio.numerator}:{ratio.denominator} instead of {word}."


def to_choice(raw: str, spec: ParamSpec) -> str:
    word = _one_value(raw)
    key = word.lower()
    normal = _VERSION_ALIASES.get(key, key) if spec.key == "version" else key
    if normal not in spec.choices:
        raise ValueProblem(
            f"{{name}} must be one of {spec.values}, not “{quote(word)}”", OutOfRangeError
        )
    return normal


def _or(words: tuple[str, ...]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def to_style(raw: str, spec: ParamSpec) -> str:
    """A known style (``raw``, or a niji style: the parser checks ``--niji`` is there)."""
    word = _one_value(raw)
    key = word.lower()
    if key in spec.choices:
        return key
    if not _WORD.fullmatch(word):
        raise ValueProblem(f"{{name}} takes one word of letters, digits and -, not “{quote(word)}”")
    close = difflib.get_close_matches(key, spec.choices, n=3, cutoff=0.5)
    suggestions = tuple(close) or spec.choices
    raise ValueProblem(
        f"{{name}} takes {_or(STYLES)}, or with --niji {_or(NIJI_STYLES)}; not “{quote(word)}”",
        OutOfRangeError,
        hint=f"Did you mean {' or '.join(f'{{name}} {s}' for s in suggestions)}?",
        suggestions=suggestions,
    )


def to_niji(raw: str, spec: ParamSpec) -> Niji:
    return Niji(to_choice(raw, spec) if raw else None)


def to_flag(raw: str, spec: ParamSpec) -> Any:
    if raw:
        raise ValueProblem(
            f"{{name}} takes no value, but got “{quote(raw)}”",
            UnexpectedValueError,
            hint=f"Text after a parameter becomes its value: move “{quote(raw)}” before the "
            "parameters.",
        )
    return spec.constant


def to_list(raw: str, spec: ParamSpec) -> tuple[str, ...]:
    items = tuple(word for item in raw.split(",") if (word := item.strip()))
    if not items:
        raise ValueProblem(
            "{name} needs something to leave out, like “{name} text, people”", MissingValueError
        )
    return items
