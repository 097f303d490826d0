"""The parameter table: one :class:`ParamSpec` per parameter drives parsing, validation and docs.

Each spec names the parameter (canonical long name first, then aliases), converts the raw
value text to a typed value, and describes itself for ``/help`` and the README table.
Converters raise :class:`ValueProblem`; the parser turns it into a :class:`PromptError` that
points at the value in the user's text. Messages say ``{name}`` where the parameter's name,
as the user typed it, goes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parser.errors import (
    InvalidURLError,
    InvalidValueError,
    InvalidWeightError,
    MissingValueError,
    OutOfRangeError,
    PromptError,
    UnexpectedValueError,
)
from parser.prompt import Mode, Niji, StyleRef
from parser.urls import check_url, unwrap_url

__all__ = ["PARAMS", "SPECS_BY_NAME", "UNSUPPORTED", "ParamSpec", "ValueProblem", "lookup"]

NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
INTEGER = re.compile(r"[+-]?\d+")
_WEIGHTED = re.compile(r"(.+?)::(" + NUMBER.pattern + r")?")


class ValueProblem(Exception):
    """Raised by converters; ``within`` narrows the span to part of the value."""

    def __init__(
        self,
        message: str,
        kind: type[PromptError] = InvalidValueError,
        hint: str | None = None,
        within: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.hint = hint
        self.within = within


Converter = Callable[[str, "ParamSpec"], Any]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """How one parameter is written, checked and documented."""

    key: str
    """Canonical long name and :class:`~parser.prompt.Params` field."""
    names: tuple[str, ...]
    """Accepted spellings without ``--``, the documented one first."""
    convert: Converter
    values: str
    """Allowed values, for humans (``"0–100"``)."""
    default: str
    summary: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    flag: bool = False
    repeatable: bool = False
    slot: str | None = None
    """Parameters sharing a slot exclude each other (``--niji``/``--v``)."""
    requires: str | None = None
    """Key of a parameter this one needs (``--sw`` needs ``--sref``)."""
    text_only: bool = False
    """Rejected on prompts made only of images."""
    constant: Any = None
    """The value of a flag."""


# -- converters ---------------------------------------------------------------------------


def _one_value(raw: str) -> str:
    """The value, which must be a single word; extra words usually are misplaced prompt text."""
    if not raw:
        raise ValueProblem("{name} needs a value", MissingValueError)
    first, _, rest = raw.partition(" ")
    if rest:
        raise ValueProblem(
            f"{{name}} takes one value, but got “{raw}”",
            hint=f"Text after a parameter becomes its value: move “{rest}” before the parameters.",
            within=(len(first) + 1, len(raw)),
        )
    return first


def _in_range(value: float, spec: ParamSpec) -> None:
    if spec.low is None or spec.high is None:
        raise TypeError(f"{spec.key} has no range in the parameter table")
    if not spec.low <= value <= spec.high:
        raise ValueProblem(
            f"{{name}} must be between {spec.values.replace('–', ' and ')}, not {_fmt(value)}",
            OutOfRangeError,
        )


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def to_int(raw: str, spec: ParamSpec) -> int:
    word = _one_value(raw)
    if not INTEGER.fullmatch(word):
        if NUMBER.fullmatch(word):
            raise ValueProblem(f"{{name}} takes a whole number ({spec.values}), not {word}")
        raise ValueProblem(f"{{name}} takes a number ({spec.values}), not “{word}”")
    value = int(word)
    _in_range(value, spec)
    return value


def to_float(raw: str, spec: ParamSpec) -> float:
    word = _one_value(raw)
    if not NUMBER.fullmatch(word):
        raise ValueProblem(f"{{name}} takes a number ({spec.values}), not “{word}”")
    value = float(word)
    _in_range(value, spec)
    return value


def to_quality(raw: str, spec: ParamSpec) -> float:
    word = _one_value(raw)
    allowed = [float(c) for c in spec.choices]
    if NUMBER.fullmatch(word) and float(word) in allowed:
        return float(word)
    raise ValueProblem(
        f"{{name}} must be one of {', '.join(spec.choices)}, not “{word}”", OutOfRangeError
    )


def to_aspect(raw: str, spec: ParamSpec) -> tuple[int, int]:
    word = _one_value(raw)
    whole = re.fullmatch(r"(\d+):(\d+)", word)
    if whole:
        width, height = int(whole[1]), int(whole[2])
        if width == 0 or height == 0:
            raise ValueProblem("{name} sides must be positive, not " + word, OutOfRangeError)
        return width, height
    decimal = re.fullmatch(r"(\d*\.?\d+):(\d*\.?\d+)", word)
    if decimal:
        raise ValueProblem(
            f"{{name}} takes whole numbers only, not {word}",
            hint=f"Use {_whole_ratio(decimal[1], decimal[2])} instead of {word}.",
        )
    other = re.fullmatch(r"(\d+)\s*[x×/:]\s*(\d+)", word)
    hint = f"Write it as {other[1]}:{other[2]}." if other else "Write it as W:H, like 16:9."
    raise ValueProblem(f"{{name}} takes a ratio W:H, not “{word}”", hint=hint)


def _whole_ratio(width: str, height: str) -> str:
    places = max(len(s.partition(".")[2]) for s in (width, height))
    w, h = round(float(width) * 10**places), round(float(height) * 10**places)
    if w == 0 or h == 0:
        return "W:H with positive whole numbers"
    d = math.gcd(w, h)
    return f"{w // d}:{h // d}"


def to_choice(raw: str, spec: ParamSpec) -> str:
    word = _one_value(raw)
    key = word.lower()
    normal = _VERSION_ALIASES.get(key, key) if spec.key == "version" else key
    if normal not in spec.choices:
        raise ValueProblem(f"{{name}} must be one of {spec.values}, not “{word}”", OutOfRangeError)
    return normal


def to_niji(raw: str, spec: ParamSpec) -> Niji:
    return Niji(to_choice(raw, spec) if raw else None)


def to_word(raw: str, spec: ParamSpec) -> str:
    word = _one_value(raw)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", word):
        raise ValueProblem(f"{{name}} takes one word of letters, digits and -, not “{word}”")
    return word.lower()


def to_flag(raw: str, spec: ParamSpec) -> Any:
    if raw:
        raise ValueProblem(
            f"{{name}} takes no value, but got “{raw}”",
            UnexpectedValueError,
            hint=f"Text after a parameter becomes its value: move “{raw}” before the parameters.",
        )
    return spec.constant


def to_list(raw: str, spec: ParamSpec) -> tuple[str, ...]:
    items = tuple(item.strip() for item in raw.split(","))
    items = tuple(item for item in items if item)
    if not items:
        raise ValueProblem(
            "{name} needs something to leave out, like “{name} text, people”", MissingValueError
        )
    return items


def _tokens(raw: str) -> list[tuple[int, int]]:
    """Spans of the whitespace- or comma-separated words of ``raw``."""
    return [m.span() for m in re.finditer(r"[^\s,]+", raw)]


STYLE_CODE_MAX = 2**32 - 1


def to_style_refs(raw: str, spec: ParamSpec) -> tuple[StyleRef, ...]:
    spans = _tokens(raw)
    if not spans:
        raise ValueProblem("{name} needs an image URL, a style code or random", MissingValueError)
    refs: list[StyleRef] = []
    for start, end in spans:
        token = raw[start:end]
        ref, weight = _split_weight(token, (start, end))
        lowered = ref.lower()
        if lowered.startswith(("http://", "https://", "<http://", "<https://")):
            url = _checked_url(ref, (start, end))
            refs.append(StyleRef(url, weight))
        elif ref.isascii() and ref.isdigit():
            if int(ref) > STYLE_CODE_MAX:
                raise ValueProblem(
                    f"{{name}} style codes go from 0 to {STYLE_CODE_MAX}, not {ref}",
                    within=(start, end),
                )
            refs.append(StyleRef(str(int(ref)), weight))
        elif lowered == "random":
            refs.append(StyleRef(lowered, weight))
        else:
            raise ValueProblem(
                f"{{name}} takes image URLs, numeric style codes or random, not “{ref}”",
                within=(start, end),
            )
    if sum(r.weight for r in refs) <= 0:
        raise ValueProblem("{name} weights must add up to more than 0", InvalidWeightError)
    return tuple(refs)


def to_urls(raw: str, spec: ParamSpec) -> tuple[str, ...]:
    spans = _tokens(raw)
    if not spans:
        raise ValueProblem("{name} needs one or more image URLs", MissingValueError)
    urls: list[str] = []
    for start, end in spans:
        token = raw[start:end]
        if "::" in token and not token.startswith("<"):
            raise ValueProblem(
                "{name} takes no ::weights",
                InvalidWeightError,
                hint="Use --cw 0–100 to set how much of the character to keep.",
                within=(start, end),
            )
        urls.append(_checked_url(token, (start, end)))
    return tuple(urls)


def _split_weight(token: str, span: tuple[int, int]) -> tuple[str, float]:
    match = _WEIGHTED.fullmatch(token)
    if not match:
        return token, 1.0
    if match[2] is None:
        raise ValueProblem(
            "“::” must be followed by a weight number", InvalidWeightError, within=span
        )
    weight = float(match[2])
    if weight < 0:
        raise ValueProblem("{name} weights can't be negative", InvalidWeightError, within=span)
    return match[1], weight


def _checked_url(token: str, span: tuple[int, int]) -> str:
    url = unwrap_url(token)
    problem = check_url(url) if url is not None else "a URL in <…> must end with “>”"
    if problem or url is None:
        raise ValueProblem(f"“{token}” is not a valid URL: {problem}", InvalidURLError, within=span)
    return url


_VERSION_ALIASES = {"5.0": "5", "6.0": "6", "7.0": "7"}


PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "aspect",
        ("ar", "aspect"),
        to_aspect,
        "W:H, whole numbers",
        "1:1",
        "Aspect ratio of the images (about the model's native pixel count).",
    ),
    ParamSpec(
        "chaos",
        ("chaos", "c"),
        to_int,
        "0–100",
        "0",
        "How different the four grid images are from each other.",
        low=0,
        high=100,
    ),
    ParamSpec(
        "no",
        ("no",),
        to_list,
        "comma list",
        "—",
        "Things to leave out (negative prompt), separated by commas.",
        repeatable=True,
    ),
    ParamSpec(
        "quality",
        ("quality", "q"),
        to_quality,
        ".25, .5, 1, 2",
        "1",
        "Rendering time: more steps for more detail.",
        choices=(".25", ".5", "1", "2"),
    ),
    ParamSpec(
        "repeat",
        ("repeat", "r"),
        to_int,
        "1–40",
        "1",
        "Run the prompt this many times, each as its own job.",
        low=1,
        high=40,
    ),
    ParamSpec(
        "seed",
        ("seed",),
        to_int,
        "0–4294967295",
        "random",
        "Starting noise; the same seed and prompt give the same grid.",
        low=0,
        high=4294967295,
    ),
    ParamSpec(
        "stop",
        ("stop",),
        to_int,
        "10–100",
        "100",
        "Finish at this percent of the steps: softer, less detailed images.",
        low=10,
        high=100,
    ),
    ParamSpec(
        "style",
        ("style",),
        to_word,
        "one word (raw, …)",
        "—",
        "Style preset; raw means less of the house style.",
    ),
    ParamSpec(
        "stylize",
        ("stylize", "s"),
        to_int,
        "0–1000",
        "100",
        "How strongly the house aesthetic is applied over the prompt.",
        low=0,
        high=1000,
        text_only=True,
    ),
    ParamSpec(
        "tile",
        ("tile",),
        to_flag,
        "flag",
        "off",
        "Images that tile seamlessly as repeating patterns.",
        flag=True,
        constant=True,
    ),
    ParamSpec(
        "weird",
        ("weird", "w"),
        to_int,
        "0–3000",
        "0",
        "Unusual, quirky results.",
        low=0,
        high=3000,
        text_only=True,
    ),
    ParamSpec(
        "iw",
        ("iw",),
        to_float,
        "0–3",
        "1",
        "Weight of the image prompts against the text (0 ignores them).",
        low=0,
        high=3,
    ),
    ParamSpec(
        "sref",
        ("sref",),
        to_style_refs,
        "URLs, codes or random, each ::weight",
        "—",
        "Style reference: copy the look of images or of a numbered style.",
        text_only=True,
    ),
    ParamSpec(
        "sw",
        ("sw",),
        to_int,
        "0–1000",
        "100",
        "Strength of the style reference.",
        low=0,
        high=1000,
        requires="sref",
    ),
    ParamSpec(
        "cref",
        ("cref",),
        to_urls,
        "URLs",
        "—",
        "Character reference: keep the person or character in these images.",
    ),
    ParamSpec(
        "cw",
        ("cw",),
        to_int,
        "0–100",
        "100",
        "Character weight: 0 copies the face only, 100 also hair and clothes.",
        low=0,
        high=100,
        requires="cref",
    ),
    ParamSpec(
        "niji",
        ("niji",),
        to_niji,
        "none, 4, 5, 6",
        "—",
        "Use the anime model (optionally a version of it).",
        choices=("4", "5", "6"),
        slot="model",
    ),
    ParamSpec(
        "version",
        ("version", "v"),
        to_choice,
        "5, 5.1, 5.2, 6, 6.1, 7",
        "latest",
        "Model version, as mapped to a model by the server's admin.",
        choices=("5", "5.1", "5.2", "6", "6.1", "7"),
        slot="model",
    ),
    ParamSpec(
        "mode",
        ("fast",),
        to_flag,
        "flag",
        "your setting",
        "Run this job in fast mode.",
        flag=True,
        slot="mode",
        constant=Mode.FAST,
    ),
    ParamSpec(
        "mode",
        ("relax",),
        to_flag,
        "flag",
        "your setting",
        "Run this job in relax mode (lowest priority).",
        flag=True,
        slot="mode",
        constant=Mode.RELAX,
    ),
    ParamSpec(
        "mode",
        ("turbo",),
        to_flag,
        "flag",
        "your setting",
        "Run this job in turbo mode (fewer steps, top priority).",
        flag=True,
        slot="mode",
        constant=Mode.TURBO,
    ),
    ParamSpec(
        "zoom",
        ("zoom",),
        to_float,
        "1–2",
        "2",
        "Zoom-out factor; only in the Custom Zoom box.",
        low=1,
        high=2,
    ),
)

SPECS_BY_NAME: dict[str, ParamSpec] = {name: spec for spec in PARAMS for name in spec.names}

UNSUPPORTED: dict[str, str] = {
    **dict.fromkeys(
        (
            "video",
            "hd",
            "test",
            "testp",
            "creative",
            "uplight",
            "upbeta",
            "upanime",
            "draft",
            "exp",
            "p",
            "profile",
            "personalize",
            "sv",
            "oref",
            "ow",
            "stealth",
            "public",
            "sameseed",
            "motion",
            "loop",
            "end",
            "bs",
        ),
        "is a Midjourney parameter this bot does not support",
    ),
    "raw": "is not supported here; use --style raw",
    "width": "was replaced by --ar; use --ar W:H",
    "height": "was replaced by --ar; use --ar W:H",
    "h": "was replaced by --ar; use --ar W:H",
}


def lookup(name: str) -> ParamSpec | None:
    """The spec for a parameter name as typed (any case), or ``None``."""
    return SPECS_BY_NAME.get(name.lower())
