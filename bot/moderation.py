"""Banned words: matched after normalising case, accents, punctuation and spacing."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BannedWords", "normalise"]

_SEPARATORS = re.compile(r"[\W_]+")
MIN_SQUASHED = 4
"""Phrases at least this long are also matched with all spaces removed ("b a n n e d")."""


def normalise(text: str) -> str:
    """Lower case, accents removed, anything but letters and digits turned into one space."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_SEPARATORS.sub(" ", stripped).split())


@dataclass(frozen=True, slots=True)
class BannedWords:
    phrases: tuple[str, ...] = ()

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> BannedWords:
        phrases = (normalise(line) for line in lines if not line.lstrip().startswith("#"))
        return cls(tuple(sorted({p for p in phrases if p})))

    @classmethod
    def from_file(cls, path: Path | None) -> BannedWords:
        if path is None:
            return cls()
        return cls.from_lines(path.read_text(encoding="utf-8").splitlines())

    def find(self, text: str) -> str | None:
        """The first banned phrase in ``text`` (as listed, normalised), or ``None``."""
        words = f" {normalise(text)} "
        squashed = words.replace(" ", "")
        for phrase in self.phrases:
            if f" {phrase} " in words:
                return phrase
            flat = phrase.replace(" ", "")
            if len(flat) >= MIN_SQUASHED and flat in squashed and _spaced_out(words, flat):
                return phrase
        return None


def _spaced_out(words: str, flat: str) -> bool:
    # "b a n n e d" or "ban ned" joined back together, but not "unbanned" inside a longer
    # word: the match must start and end on word boundaries of the spaced text.
    positions = [i for i, c in enumerate(words) if c != " "]
    text = "".join(words[i] for i in positions)
    start = text.find(flat)
    while start != -1:
        first, last = positions[start], positions[start + len(flat) - 1]
        if words[first - 1] == " " and words[last + 1] == " ":
            return True
        start = text.find(flat, start + 1)
    return False
