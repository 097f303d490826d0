"""Converters of parameters whose value is a list of weighted items: style references
(``--sref URL::2 762351716 random``), LoRAs (``--lora name::0.7``) and image URLs (``--cref``).

Items are separated by spaces or commas; ``::weight`` follows an item.
"""

from __future__ import annotations

import math
import re

from parser.errors import InvalidURLError, InvalidWeightError, MissingValueError, quote
from parser.prompt import LoraRef, StyleRef
from parser.urls import check_url, unwrap_url
from parser.values import NUMBER, ParamSpec, ValueProblem, finite_number, whole_number

__all__ = ["MAX_LORA_WEIGHT", "STYLE_CODE_MAX", "to_loras", "to_style_refs", "to_urls"]

_WEIGHTED = re.compile(r"(.+?)::(" + NUMBER.pattern + r")?")


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
            code = whole_number(ref)
            if code is None or code > STYLE_CODE_MAX:
                raise ValueProblem(
                    f"{{name}} style codes go from 0 to {STYLE_CODE_MAX}, not {quote(ref)}",
                    within=(start, end),
                )
            refs.append(StyleRef(str(code), weight))
        elif lowered == "random":
            refs.append(StyleRef(lowered, weight))
        else:
            raise ValueProblem(
                f"{{name}} takes image URLs, numeric style codes or random, not “{quote(ref)}”",
                within=(start, end),
            )
    total = sum(r.weight for r in refs)
    if total <= 0:
        raise ValueProblem("{name} weights must add up to more than 0", InvalidWeightError)
    if not math.isfinite(total):
        raise ValueProblem("{name} weights are too large", InvalidWeightError)
    return tuple(refs)


MAX_LORA_WEIGHT = 2.0
_LORA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def to_loras(raw: str, spec: ParamSpec) -> tuple[LoraRef, ...]:
    """``name`` or ``name::weight`` (0–2), one or more (which exist is the bot's to check)."""
    spans = _tokens(raw)
    if not spans:
        raise ValueProblem(
            "{name} needs a LoRA name, like “{name} watercolor::0.8”", MissingValueError
        )
    loras: list[LoraRef] = []
    for start, end in spans:
        token = raw[start:end]
        name, weight = _split_weight(token, (start, end))
        if not _LORA_NAME.fullmatch(name):
            raise ValueProblem(
                f"{{name}} takes LoRA names (letters, digits, “_”, “-”, “.”), not “{quote(name)}”",
                within=(start, end),
            )
        if weight > MAX_LORA_WEIGHT:
            raise ValueProblem(
                f"{{name}} weights go from 0 to {MAX_LORA_WEIGHT:g}, not {weight:g}",
                InvalidWeightError,
                within=(start, end),
            )
        loras.append(LoraRef(name, weight if "::" in token else None))
    return tuple(loras)


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
    weight = finite_number(match[2])
    if weight is None:
        raise ValueProblem("{name} weight is too large", InvalidWeightError, within=span)
    if weight < 0:
        raise ValueProblem("{name} weights can't be negative", InvalidWeightError, within=span)
    return match[1], weight


def _checked_url(token: str, span: tuple[int, int]) -> str:
    url = unwrap_url(token)
    problem = check_url(url) if url is not None else "a URL in <…> must end with “>”"
    if problem or url is None:
        raise ValueProblem(
            f"“{quote(token)}” is not a valid URL: {problem}", InvalidURLError, within=span
        )
    return url
