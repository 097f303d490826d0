"""``/prefer option`` macros: ``--name`` in a prompt expands to the user's stored value."""

from __future__ import annotations

import re
from collections.abc import Mapping

from parser.errors import MacroError
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


def expand_options(text: str, options: Mapping[str, str]) -> Mapped:
    """``text`` with each ``--name`` of a stored option replaced by its value.

    Expansion is not recursive: a value that mentions another option is used as written.
    Every character of an expansion maps back to the ``--name`` that produced it, so errors
    inside it point at the name the user typed.
    """
    source = Mapped.identity(text)
    if not options:
        return source
    table = {key.lower(): value for key, value in options.items()}
    builder = MappedBuilder()
    done = 0
    for match in _MACRO.finditer(text):
        name = match[1].lower()
        if name not in table or name in SPECS_BY_NAME:
            continue
        builder.copy(source, done, match.start())
        builder.emit(" ".join(table[name].split()), match.start(), match.end())
        done = match.end()
    if done == 0:
        return source
    builder.copy(source, done, len(text))
    return builder.build()
