"""``/prefer option`` macros: ``--name`` in a prompt expands to the user's stored value."""

from __future__ import annotations

import re
from collections.abc import Mapping

from parser.errors import ExpansionTooLongError, MacroError
from parser.sourcemap import Mapped, MappedBuilder
from parser.specs import SPECS_BY_NAME, UNSUPPORTED

__all__ = ["MAX_OPTIONS", "OPTION_NAME", "check_option_name", "expand_options"]

MAX_OPTIONS = 20
OPTION_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_MACRO = re.compile(r"(?:(?<=[\s{,])|^)(?:--|—)([^\W\d_][\w-]*)(?=[\s},]|$)")


def check_option_name(name: str) -> str:
    """The option's name normalised (no dashes, lower case); raises :class:`MacroError`."""
    bare = name.strip().lstrip("-—").lower()
    if not OPTION_NAME.fullmatch(bare):
        raise MacroError(
            "Option names are 1–32 letters, digits, - or _, starting with a letter",
            name,
            0,
            len(name),
        )
    if bare in SPECS_BY_NAME or bare in UNSUPPORTED:
        raise MacroError(
            f"--{bare} is already a parameter; choose another name", name, 0, len(name)
        )
    return bare


def expand_options(text: str, options: Mapping[str, str], max_length: int) -> Mapped:
    """``text`` with each ``--name`` of a stored option replaced by its value.

    Expansion is not recursive: a value that mentions another option is used as written.
    Every character of an expansion maps back to the ``--name`` that produced it, so errors
    inside it point at the name the user typed. Raises :class:`ExpansionTooLongError` (at the
    ``--name`` that crosses the line) as soon as the result would be longer than
    ``max_length``, before building it: one long option used 400 times must not cost
    gigabytes.
    """
    source = Mapped.identity(text)
    if not options:
        return source
    table = {key.lower(): value for key, value in options.items()}
    table = {key: " ".join(value.split()) for key, value in table.items()}
    uses = [
        (m, table[name])
        for m in _MACRO.finditer(text)
        if (name := m[1].lower()) in table and name not in SPECS_BY_NAME
    ]
    if not uses:
        return source
    # 1. Measure: the expanded length, without building anything.
    if len(text) + sum(len(value) - len(m[0]) for m, value in uses) > max_length:
        _raise_too_long(text, uses, max_length)
    # 2. Build, keeping the map back to the typed text.
    builder = MappedBuilder()
    done = 0
    for match, value in uses:
        builder.copy(source, done, match.start())
        builder.emit(value, match.start(), match.end())
        done = match.end()
    builder.copy(source, done, len(text))
    return builder.build()


def _raise_too_long(text: str, uses: list[tuple[re.Match[str], str]], max_length: int) -> None:
    """Point at the ``--name`` that first takes the expanded prompt past ``max_length``."""
    length = len(text)
    crossing = uses[-1][0]
    for match, value in uses:
        length += len(value) - len(match[0])
        if length > max_length:
            crossing = match
            break
    raise ExpansionTooLongError(
        f"With your option {crossing[0]} filled in, the prompt is longer than "
        f"{max_length:,} characters (the limit)",
        text,
        crossing.start(),
        crossing.end(),
        hint="Use the option fewer times, or shorten it with /prefer option set.",
    )
