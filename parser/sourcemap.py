"""Text rewritten by macros and permutations, with a map back to the user's original offsets.

Errors are found in the rewritten text but must point into what the user typed, so every
rewriting step produces a :class:`Mapped` text: each character knows the span of the original
it came from. A character copied from the original maps to itself; a character produced by a
macro maps to the whole ``--name`` that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Mapped", "MappedBuilder"]


@dataclass(frozen=True, slots=True)
class Mapped:
    """``text`` plus, per character, the original span ``[starts[i], ends[i])``.

    ``starts is None`` means the identity map (the text *is* the original): the common case,
    kept free of per-character lists.
    """

    text: str
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    @classmethod
    def identity(cls, text: str) -> Mapped:
        return cls(text)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span that ``text[start:end]`` came from."""
        if self.starts is None or self.ends is None:
            return start, end
        n = len(self.starts)
        if n == 0:
            return 0, 0
        if start >= end:  # a point: map to the character at it, whole if it is generated
            i = min(start, n - 1)
            if start >= n:
                return self.ends[-1], self.ends[-1]
            generated = self.ends[i] - self.starts[i] != 1
            return (self.starts[i], self.ends[i]) if generated else (self.starts[i],) * 2
        end = min(end, n)
        return min(self.starts[start:end]), max(self.ends[start:end])


class MappedBuilder:
    """Accumulates pieces of text with their original spans into a :class:`Mapped`."""

    __slots__ = ("_ends", "_parts", "_starts")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._starts: list[int] = []
        self._ends: list[int] = []

    def copy(self, source: Mapped, start: int, end: int) -> None:
        """Append ``source.text[start:end]`` keeping its map."""
        self._parts.append(source.text[start:end])
        if source.starts is None or source.ends is None:
            self._starts.extend(range(start, end))
            self._ends.extend(range(start + 1, end + 1))
        else:
            self._starts.extend(source.starts[start:end])
            self._ends.extend(source.ends[start:end])

    def emit(self, text: str, origin_start: int, origin_end: int) -> None:
        """Append generated ``text`` that maps, every character of it, to one original span."""
        self._parts.append(text)
        self._starts.extend([origin_start] * len(text))
        self._ends.extend([origin_end] * len(text))

    def build(self) -> Mapped:
        return Mapped("".join(self._parts), tuple(self._starts), tuple(self._ends))
