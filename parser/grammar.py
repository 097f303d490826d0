"""Reading one prompt (macros and permutations already expanded) into its pieces.

A prompt is ``[image URLs] [text with :: weights] [--parameters]``. This module finds those
three sections, converts each piece, and reports problems at their place in the user's text
(through the :class:`~parser.sourcemap.Mapped` text it reads).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from parser.errors import (
    EmptyPromptError,
    GluedValueError,
    ImageOnlyPromptError,
    InvalidURLError,
    InvalidWeightError,
    PromptError,
    UnknownParameterError,
    UnsupportedParameterError,
    quote,
)
from parser.prompt import ImagePrompt, TextPart
from parser.sourcemap import Mapped
from parser.specs import SPECS_BY_NAME, UNSUPPORTED, ParamSpec, lookup
from parser.urls import URL_START, check_url, unwrap_url
from parser.values import NUMBER, ValueProblem, finite_number

__all__ = ["Located", "ParamUse", "Sections", "read_sections"]

PARAM_START = re.compile(r"(?:(?<=[\s,:])|^)(?:--|—)(?=[^\W\d_])")
# `cat::2--ar 1:1`: a parameter right after a part's weight, with no space between.
_WEIGHT_THEN_PARAM = re.compile(r"::" + NUMBER.pattern + r"(?P<dash>--|—)(?=[^\W\d_])")
_WS = re.compile(r"\s+")
_COLONS = re.compile(r":{2,}")
_WEIGHT = re.compile(NUMBER.pattern)
_URL_TOKEN = re.compile(r"\S+")
_NAME = re.compile(r"\S*")  # \s is str.isspace, as everywhere else here
_SKIP_AFTER_URL = re.compile(r"[\s,]*")
_IMAGE_WEIGHT = re.compile(r"(.+)::(" + NUMBER.pattern + r")?")
_LONGEST_NAME = max(len(name) for name in SPECS_BY_NAME)


def collapse(text: str) -> str:
    """Runs of whitespace become one space; ends are trimmed."""
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Located:
    """The text being read, and how to point into what the user typed."""

    mapped: Mapped
    original: str
    origin: str = "prompt"

    def error(
        self, kind: type[PromptError], msg: str, start: int, end: int, **extra: Any
    ) -> PromptError:
        a, b = self.mapped.span(start, end)
        return kind(msg, self.original, a, b, origin=self.origin, **extra)


@dataclass(frozen=True, slots=True)
class ParamUse:
    """One ``--name value`` as written, with its converted value."""

    spec: ParamSpec
    name: str
    """As typed, without dashes."""
    raw: str
    """The value text, whitespace collapsed."""
    value: Any
    where: Located
    start: int
    end: int

    def error(self, kind: type[PromptError], msg: str, **extra: Any) -> PromptError:
        return self.where.error(kind, msg, self.start, self.end, parameter=self.spec.key, **extra)

    @property
    def canonical(self) -> str:
        return f"--{self.name} {self.raw}" if self.raw else f"--{self.name}"


@dataclass(frozen=True, slots=True)
class Sections:
    images: tuple[ImagePrompt, ...]
    parts: tuple[TextPart, ...]
    params: tuple[ParamUse, ...]
    prefix_end: int
    """Where the parameters begin (the end of images and text)."""


def read_sections(where: Located) -> Sections:
    """Split and convert images, text parts and parameters (no cross-parameter checks)."""
    text = where.mapped.text
    first_param = PARAM_START.search(text)
    prefix_end = first_param.start() if first_param else len(text)
    glued = _WEIGHT_THEN_PARAM.search(text, 0, prefix_end)
    if glued:
        prefix_end = glued.start("dash")
    images, text_start = _read_images(where, prefix_end)
    parts = _read_parts(where, text_start, prefix_end)
    params = _read_params(where, prefix_end)
    return Sections(tuple(images), tuple(parts), tuple(params), prefix_end)


def _read_images(where: Located, end: int) -> tuple[list[ImagePrompt], int]:
    text = where.mapped.text
    images: list[ImagePrompt] = []
    pos = len(text) - len(text.lstrip())
    while pos < end and URL_START.match(text, pos):
        token = _URL_TOKEN.match(text, pos, end)
        assert token is not None  # noqa: S101 - URL_START matched a non-space
        # A trailing comma separates, it is not part of the URL; `url::2` weighs the image.
        word = token[0].rstrip(",")
        url_text, weight_text = word, None
        weighted = _IMAGE_WEIGHT.fullmatch(word)
        if weighted:
            url_text, weight_text = weighted[1], weighted[2] or ""
        url = unwrap_url(url_text)
        problem = check_url(url) if url is not None else "a URL in <…> must end with “>”"
        if problem or url is None:
            raise where.error(
                InvalidURLError,
                f"“{quote(url_text)}” is not a valid image URL: {problem}",
                token.start(),
                token.start() + len(url_text),
            )
        if weight_text == "":
            raise where.error(
                InvalidWeightError,
                "“::” after an image must be followed by a weight number",
                token.start(),
                token.start() + len(word),
            )
        weight = finite_number(weight_text) if weight_text else 1.0
        if weight is None:
            raise where.error(
                InvalidWeightError,
                "This image weight is too large",
                token.start() + len(url_text),
                token.start() + len(word),
            )
        images.append(ImagePrompt(url, weight, weight_text))
        skip = _SKIP_AFTER_URL.match(text, token.end(), end)
        pos = skip.end() if skip else token.end()
    return images, pos


def _read_parts(where: Located, start: int, end: int) -> list[TextPart]:
    text = where.mapped.text
    parts: list[TextPart] = []
    part_start = start
    pos = start
    while True:
        run = _COLONS.search(text, pos, end)
        if run is None:
            tail = collapse(text[part_start:end])
            if tail:
                parts.append(TextPart(tail))
            break
        separator = run.end() - 2
        weight = _WEIGHT.match(text, run.end(), end)
        weight_text = weight[0] if weight else ""
        part_text = collapse(text[part_start:separator])
        after = weight.end() if weight else run.end()
        if not part_text:
            raise where.error(
                InvalidWeightError,
                f"There is nothing before “::{quote(weight_text)}” to weigh",
                separator,
                after,
                hint="Write a concept before ::, like “space::2 ship”.",
            )
        value = finite_number(weight_text) if weight_text else 1.0
        if value is None:
            raise where.error(InvalidWeightError, "This weight is too large", separator, after)
        parts.append(TextPart(part_text, value, weight_text))
        part_start = pos = after
    total = sum(p.weight for p in parts)
    if parts and total <= 0:
        raise where.error(
            InvalidWeightError,
            "The weights of the prompt's parts must add up to more than 0",
            start,
            end,
            hint="Raise a positive weight or make a negative one smaller.",
        )
    if not math.isfinite(total):
        raise where.error(
            InvalidWeightError,
            "The weights of the prompt's parts are too large",
            start,
            end,
            hint="Use weights like ::2 or ::0.5; only their proportions matter.",
        )
    return parts


def _read_params(where: Located, start: int) -> list[ParamUse]:
    text = where.mapped.text
    if start >= len(text):
        return []
    starts = [start, *(m.start() for m in PARAM_START.finditer(text, start + 1))]
    uses: list[ParamUse] = []
    for index, dash in enumerate(starts):
        stop = starts[index + 1] if index + 1 < len(starts) else len(text)
        name_start = dash + (1 if text[dash] == "—" else 2)
        name_end = _NAME.match(text, name_start, stop).end()  # type: ignore[union-attr]
        name = text[name_start:name_end]
        spec = lookup(name)
        if spec is None:
            raise _unknown(where, name, dash, name_end)
        segment = text[name_end:stop]
        words = segment.split()
        raw = " ".join(words)  # collapse(), inlined: this loop is the parser's hottest
        if words:
            value_start = name_end + segment.index(words[0])
            value_end = name_end + len(segment.rstrip())
        else:
            value_start = value_end = name_end + len(segment)
        try:
            value = spec.convert(raw, spec)
        except ValueProblem as problem:
            raise _value_error(
                where, spec, name, problem, (dash, name_end), (value_start, value_end)
            ) from None
        uses.append(ParamUse(spec, name, raw, value, where, dash, max(name_end, value_end)))
    return uses


def _value_error(
    where: Located,
    spec: ParamSpec,
    name: str,
    problem: ValueProblem,
    name_span: tuple[int, int],
    value_span: tuple[int, int],
) -> PromptError:
    if value_span[1] <= value_span[0]:  # no value at all: point at the name
        start, end = name_span
    elif problem.within is not None:
        start, end = _raw_to_text(where.mapped.text, *value_span, problem.within)
    else:
        start, end = value_span
    message = problem.message.replace("{name}", f"--{name}")
    hint = problem.hint.replace("{name}", f"--{name}") if problem.hint else None
    return where.error(
        problem.kind,
        message,
        start,
        end,
        parameter=spec.key,
        hint=hint,
        suggestions=problem.suggestions,
    )


def _raw_to_text(text: str, start: int, end: int, within: tuple[int, int]) -> tuple[int, int]:
    """Map offsets in the whitespace-collapsed value back to offsets in ``text``."""
    positions: list[int] = []
    previous_space = False
    for i in range(start, end):
        if text[i].isspace():
            if not previous_space:
                positions.append(i)
            previous_space = True
        else:
            positions.append(i)
            previous_space = False
    positions.append(end)
    lo = positions[min(within[0], len(positions) - 1)]
    hi = positions[min(within[1], len(positions) - 1)]
    return lo, hi


def _unknown(where: Located, name: str, start: int, end: int) -> PromptError:
    lowered = name.lower()
    if lowered in UNSUPPORTED:
        return where.error(
            UnsupportedParameterError,
            f"--{quote(name)} {UNSUPPORTED[lowered]}",
            start,
            end,
            parameter=lowered,
        )
    glued = _split_glued(lowered)
    if glued is not None:
        spec, value = glued
        spaced = f"--{name[: len(name) - len(value)]} {value}"
        return where.error(
            GluedValueError,
            f"Unknown parameter --{quote(name)}: put a space between the name and value",
            start,
            end,
            parameter=spec.key,
            hint=f"Write {quote(spaced)}",
            suggestions=[spaced],
        )
    close = difflib.get_close_matches(lowered, [*SPECS_BY_NAME], n=3, cutoff=0.6)
    suggestions = [f"--{c}" for c in close]
    hint = f"Did you mean {' or '.join(suggestions)}?" if suggestions else None
    return where.error(
        UnknownParameterError,
        f"Unrecognized parameter --{quote(name)}",
        start,
        end,
        hint=hint,
        suggestions=suggestions,
    )


def _split_glued(name: str) -> tuple[ParamSpec, str] | None:
    """``ar16:9`` → (aspect, ``16:9``): the longest parameter name followed by a value."""
    for cut in range(min(len(name) - 1, _LONGEST_NAME), 0, -1):
        spec = SPECS_BY_NAME.get(name[:cut])
        rest = name[cut:]
        if spec is not None and not spec.flag and rest[0] in "0123456789.:+-":
            return spec, rest
    return None


def image_only_error(
    where: Located, sections: Sections, uses: Sequence[ParamUse]
) -> PromptError | None:
    """The rule broken by a prompt without text, if any (``uses``: with the suffix's)."""
    if sections.parts:
        return None
    if not sections.images:
        end = sections.prefix_end if sections.params else len(where.mapped.text)
        msg = (
            "The prompt has no text or image before its parameters"
            if sections.params
            else "The prompt is empty"
        )
        return where.error(
            EmptyPromptError,
            msg,
            0,
            max(end, 0),
            hint="Describe what you want to see, like “a red fox in snow”.",
        )
    if len(sections.images) == 1:
        return where.error(
            ImageOnlyPromptError,
            "An image prompt needs text or a second image",
            0,
            sections.prefix_end,
            hint="Add words after the URL, or use two or more images to blend.",
        )
    for use in uses:
        if use.spec.text_only:
            return use.error(
                ImageOnlyPromptError,
                f"--{use.name} needs a text prompt; this prompt is only images",
            )
    return None
