"""Permutation prompts: ``a {red, green} bird`` becomes one prompt per option.

Groups multiply (Cartesian product) and nest (at most :data:`MAX_NESTING` deep);
``\\,``, ``\\{`` and ``\\}`` are literal characters; spaces around the options are trimmed. The
number of prompts and their total length are computed before anything is expanded, so
``{a,b}`` written twenty times, or forty copies of a long prompt, fail fast instead of
running away.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parser.errors import ExpansionTooLongError, PermutationError, TooManyPermutationsError
from parser.sourcemap import Mapped, MappedBuilder

__all__ = ["ESCAPABLE", "MAX_NESTING", "escape", "expand_permutations"]

ESCAPABLE = ",{}"
MAX_NESTING = 10
"""Groups inside groups, at most this deep: Midjourney's examples nest two; the expansion is
recursive, and a prompt of 3,000 ``{`` must be an error, not a crash."""


@dataclass(slots=True)
class _Literal:
    start: int
    end: int


@dataclass(slots=True)
class _Escape:
    at: int  # the backslash; the escaped character follows it


@dataclass(slots=True)
class _Group:
    open_at: int
    close_at: int = -1
    options: list[list[_Node]] = field(default_factory=list)


_Node = _Literal | _Escape | _Group


def expand_permutations(
    source: Mapped, original: str, limit: int, max_total_length: int, suffix_length: int = 0
) -> list[Mapped]:
    """One mapped text per permutation of ``source``; raises :class:`PermutationError`, or
    :class:`ExpansionTooLongError` when the prompts together, each with a suffix of
    ``suffix_length`` characters, would be longer than ``max_total_length`` characters.

    ``original`` is the text the user typed, which ``source`` maps back to (for errors).
    """
    text = source.text
    if "{" not in text and "}" not in text and "\\" not in text:
        return [source]
    sequence = _parse(source, original)
    count = _count(sequence, limit + 1)
    if count > limit or _total_length(sequence) + count * suffix_length > max_total_length:
        groups = [n for n in sequence if isinstance(n, _Group)]
        start, end = source.span(groups[0].open_at, groups[-1].close_at + 1)
        if count > limit:
            raise TooManyPermutationsError(
                f"This permutation prompt makes more than {limit} prompts (the limit is {limit})",
                original,
                start,
                end,
                hint="Use fewer {…} options or split it into several prompts.",
            )
        with_suffix = " with your suffix" if suffix_length else ""
        raise ExpansionTooLongError(
            f"This permutation prompt makes {count} prompts that are together{with_suffix} "
            f"more than {max_total_length:,} characters long (the limit)",
            original,
            start,
            end,
            hint="Use fewer {…} options, or a shorter prompt.",
        )
    results = []
    for pieces in _expand(sequence):
        builder = MappedBuilder()
        for piece in pieces:
            if isinstance(piece, _Literal):
                builder.copy(source, piece.start, piece.end)
            else:
                builder.emit(text[piece.at + 1], *source.span(piece.at, piece.at + 2))
        results.append(builder.build())
    return results


def escape(text: str) -> str:
    """Write ``text`` so that expanding permutations in it gives ``text`` back."""
    if "{" not in text and "}" not in text and "," not in text:  # ESCAPABLE, unrolled: hot
        return text
    out: list[str] = []
    for i, char in enumerate(text):
        if char in "{}" or (char == "," and i > 0 and text[i - 1] == "\\"):
            out.append("\\")
        out.append(char)
    return "".join(out)


def _parse(source: Mapped, original: str) -> list[_Node]:
    text = source.text
    root: list[_Node] = []
    stack: list[tuple[_Group, list[_Node]]] = []  # open groups and the option being filled
    current = root
    literal_start = 0
    i = 0

    def flush(upto: int) -> None:
        if upto > literal_start:
            current.append(_Literal(literal_start, upto))

    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in ESCAPABLE:
            flush(i)
            current.append(_Escape(i))
            i += 2
            literal_start = i
            continue
        if char == "{":
            if len(stack) == MAX_NESTING:
                raise _error(
                    source,
                    original,
                    f"Permutations nest more than {MAX_NESTING} deep here",
                    i,
                    "Use fewer {…} inside {…}, or write \\{ for a literal brace.",
                )
            flush(i)
            group = _Group(i)
            stack.append((group, current))
            current.append(group)
            current = []
            group.options.append(current)
            literal_start = i + 1
        elif char == "," and stack:
            flush(i)
            current = []
            stack[-1][0].options.append(current)
            literal_start = i + 1
        elif char == "}":
            if not stack:
                raise _error(
                    source, original, "This “}” closes no “{”", i, "Write \\} for a literal brace."
                )
            flush(i)
            group, current = stack.pop()
            group.close_at = i
            group.options = [_trim(text, option) for option in group.options]
            if len(group.options) == 1 and not group.options[0]:
                raise _error(
                    source,
                    original,
                    "This permutation {} has no options",
                    group.open_at,
                    "Write options separated by commas, like {red, blue}.",
                    i + 1,
                )
            literal_start = i + 1
        i += 1
    flush(len(text))
    if stack:
        raise _error(
            source,
            original,
            "This “{” is never closed",
            stack[-1][0].open_at,
            "Add the missing “}”, or write \\{ for a literal brace.",
        )
    return root


def _trim(text: str, option: list[_Node]) -> list[_Node]:
    while option and isinstance(option[0], _Literal):
        lit = option[0]
        while lit.start < lit.end and text[lit.start].isspace():
            lit.start += 1
        if lit.start < lit.end:
            break
        option.pop(0)
    while option and isinstance(option[-1], _Literal):
        lit = option[-1]
        while lit.end > lit.start and text[lit.end - 1].isspace():
            lit.end -= 1
        if lit.end > lit.start:
            break
        option.pop()
    return option


def _count(sequence: list[_Node], cap: int) -> int:
    total = 1
    for node in sequence:
        if isinstance(node, _Group):
            total *= min(cap, sum(_count(option, cap) for option in node.options))
            total = min(total, cap)
    return total


def _total_length(sequence: list[_Node]) -> int:
    """The summed length of all the texts ``sequence`` expands to (call after :func:`_count`
    has bounded their number, so this stays small)."""
    return _sizes(sequence)[1]


def _sizes(sequence: list[_Node]) -> tuple[int, int]:
    """(number of texts, their summed length) for ``sequence``."""
    count, length = 1, 0
    for node in sequence:
        if isinstance(node, _Group):
            options = [_sizes(option) for option in node.options]
            n, size = sum(o[0] for o in options), sum(o[1] for o in options)
        else:
            n, size = 1, (node.end - node.start if isinstance(node, _Literal) else 1)
        # every text so far is followed by each of this node's n texts, and vice versa
        count, length = count * n, length * n + size * count
    return count, length


def _expand(sequence: list[_Node]) -> list[list[_Literal | _Escape]]:
    results: list[list[_Literal | _Escape]] = [[]]
    for node in sequence:
        if isinstance(node, _Group):
            alternatives = [alt for option in node.options for alt in _expand(option)]
            results = [done + alt for done in results for alt in alternatives]
        else:
            results = [[*done, node] for done in results]
    return results


def _error(
    source: Mapped, original: str, msg: str, at: int, hint: str, end: int | None = None
) -> PermutationError:
    start, stop = source.span(at, at + 1 if end is None else end)
    return PermutationError(msg, original, start, stop, hint=hint)
