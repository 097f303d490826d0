"""The parser's entry points: prompt text (plus the user's macros and suffix) → prompts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from parser.errors import (
    ConflictingParametersError,
    DuplicateParameterError,
    InvalidValueError,
    PromptTooLongError,
    RequiresParameterError,
    SuffixError,
)
from parser.grammar import PARAM_START, Located, ParamUse, Sections, image_only_error, read_sections
from parser.macros import expand_options
from parser.permutations import escape, expand_permutations
from parser.prompt import Params, Prompt
from parser.sourcemap import Mapped
from parser.values import NIJI_STYLES

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_MAX_PERMUTATIONS",
    "DEFAULT_MAX_TOTAL_LENGTH",
    "parse",
    "parse_one",
    "parse_suffix",
]

DEFAULT_MAX_PERMUTATIONS = 40
DEFAULT_MAX_LENGTH = 6000
"""Discord's limit for a slash-command string option; also the limit after macros."""
DEFAULT_MAX_TOTAL_LENGTH = 30_000
"""All the prompts one text expands to, together (40 of 750 characters, or 5 of 6,000):
reading costs up to ~0.5 µs a character in prompts dense with parameters or ``::`` (more on a
busy machine), so this keeps the slowest text well inside the 50 ms budget
(``bench/fuzz_parser.py`` measures it)."""


def parse(
    text: str,
    *,
    options: Mapping[str, str] | None = None,
    suffix: str = "",
    max_permutations: int = DEFAULT_MAX_PERMUTATIONS,
    max_length: int = DEFAULT_MAX_LENGTH,
    max_total_length: int = DEFAULT_MAX_TOTAL_LENGTH,
    allow_zoom: bool = False,
    niji_default: bool = False,
) -> list[Prompt]:
    """Parse ``text`` into one :class:`Prompt` per permutation.

    1. ``--name`` macros from ``options`` are expanded (to at most ``max_length`` characters);
    2. ``{a, b}`` permutations are expanded (at most ``max_permutations`` prompts, at most
       ``max_total_length`` characters together);
    3. each prompt is read: image URLs, ``::`` parts, parameters;
    4. ``suffix`` parameters are added where the prompt does not set them itself;
    5. rules between parameters are checked and the canonical echo is written.

    ``allow_zoom`` permits ``--zoom`` (only the Custom Zoom box does). ``niji_default`` says
    that a prompt naming no model runs on a niji one (the user's ``/settings``), so niji
    styles need no ``--niji``. Raises :class:`~parser.errors.PromptError` with a span into
    ``text`` (or into ``suffix``). Bounded: with the default limits any text takes a few
    milliseconds (``bench/fuzz_parser.py`` measures the worst).
    """
    if len(text) > max_length:
        raise PromptTooLongError(
            f"The prompt is {len(text)} characters long; the limit is {max_length}",
            text,
            max_length,
            len(text),
        )
    suffix_uses = parse_suffix(suffix, max_length=max_length) if suffix.strip() else ()
    expanded = expand_options(text, options or {}, max_length)
    prompts = []
    permutations = expand_permutations(
        expanded, text, max_permutations, max_total_length, len(suffix) if suffix_uses else 0
    )
    for mapped in permutations:
        where = Located(mapped, text)
        prompts.append(_build(where, read_sections(where), suffix_uses, allow_zoom, niji_default))
    return prompts


def parse_one(text: str, **kwargs: Any) -> Prompt:
    """Parse text that must make exactly one prompt (a Remix or Custom Zoom box)."""
    prompts = parse(text, **{"max_permutations": 1, **kwargs})
    return prompts[0]


def parse_suffix(suffix: str, *, max_length: int = DEFAULT_MAX_LENGTH) -> tuple[ParamUse, ...]:
    """Read a ``/prefer suffix``: parameters only. Raises :class:`SuffixError` on text and
    :class:`PromptTooLongError` past ``max_length`` characters."""
    if len(suffix) > max_length:
        raise PromptTooLongError(
            f"The suffix is {len(suffix)} characters long; the limit is {max_length}",
            suffix,
            max_length,
            len(suffix),
            origin="suffix",
        )
    where = Located(Mapped.identity(suffix), suffix, origin="suffix")
    lead = len(suffix) - len(suffix.lstrip())
    if not PARAM_START.match(suffix, lead):
        first = PARAM_START.search(suffix)
        raise SuffixError(
            "Only parameters can be used in a suffix",
            suffix,
            lead,
            first.start() if first else len(suffix),
            origin="suffix",
            hint="Start the suffix with a parameter, like “--ar 16:9 --s 250”.",
        )
    sections = read_sections(where)
    _check_each_once(sections.params)
    return sections.params


def _build(
    where: Located,
    sections: Sections,
    suffix: Sequence[ParamUse],
    allow_zoom: bool,
    niji_default: bool,
) -> Prompt:
    _check_each_once(sections.params)
    uses = _with_suffix(sections.params, suffix)
    problem = image_only_error(where, sections, uses)
    if problem is not None:
        raise problem
    _check_rules(uses, allow_zoom, niji_default)
    values: dict[str, Any] = {}
    repeated: list[str] = []  # `--no` keys: gathered in a list, so 800 of them stay linear
    for use in uses:
        key = use.spec.key
        if not use.spec.repeatable:
            values[key] = use.value
        elif key in values:
            values[key].extend(use.value)
        else:
            values[key] = list(use.value)
            repeated.append(key)
    for key in repeated:
        values[key] = tuple(values[key])
    params = Params(**values)
    return Prompt(sections.images, sections.parts, params, _canonical(sections, uses))


def _check_each_once(uses: Sequence[ParamUse]) -> None:
    seen: dict[str, ParamUse] = {}
    for use in uses:
        slot = use.spec.slot or use.spec.key
        earlier = seen.get(slot)
        if earlier is not None and earlier.spec is use.spec and not use.spec.repeatable:
            raise use.error(
                DuplicateParameterError,
                f"--{use.name} is given twice",
                hint=f"Keep one --{use.name}.",
            )
        if earlier is not None and earlier.spec is not use.spec:
            raise use.error(
                ConflictingParametersError,
                f"--{use.name} can't be used together with --{earlier.name}",
                hint="Keep only one of them.",
            )
        seen[slot] = use


def _with_suffix(uses: Sequence[ParamUse], suffix: Sequence[ParamUse]) -> list[ParamUse]:
    """The prompt's parameters, then the suffix's that the prompt does not override."""
    taken = {use.spec.slot or use.spec.key for use in uses}
    kept = [
        use for use in suffix if use.spec.repeatable or (use.spec.slot or use.spec.key) not in taken
    ]
    return [*uses, *kept]


MAX_LORAS = 4


def _check_rules(uses: Sequence[ParamUse], allow_zoom: bool, niji_default: bool) -> None:
    keys = {use.spec.key for use in uses}
    loras = 0
    for use in uses:
        if use.spec.key == "lora":
            loras += len(use.value)
            if loras > MAX_LORAS:
                raise use.error(
                    InvalidValueError,
                    f"--{use.name}: at most {MAX_LORAS} LoRAs per prompt",
                    hint=f"Keep {MAX_LORAS} of them.",
                )
    on_niji = "niji" in keys or (niji_default and "version" not in keys)
    for use in uses:
        if use.spec.key == "style" and use.value in NIJI_STYLES and not on_niji:
            raise use.error(
                RequiresParameterError,
                f"--{use.name} {use.value} is a niji style: it only works together with --niji",
                hint=f"Add --niji, or use --{use.name} raw.",
            )
        needed = use.spec.requires
        if needed is not None and needed not in keys:
            raise use.error(
                RequiresParameterError,
                f"--{use.name} only works together with --{needed}",
                hint=f"Add --{needed}, or remove --{use.name}.",
            )
        if use.spec.key == "zoom" and not allow_zoom:
            raise use.error(
                InvalidValueError,
                "--zoom only works in the Custom Zoom box",
                hint="Press 🔍 Custom Zoom under an upscaled image.",
            )


def _canonical(sections: Sections, uses: Sequence[ParamUse]) -> str:
    words: list[str] = []
    for image in sections.images:
        weight = f"::{image.weight_text}" if image.weight_text is not None else ""
        words.append(f"<{escape(image.url)}>{weight}")
    for part in sections.parts:
        weight = f"::{part.weight_text}" if part.weight_text is not None else ""
        words.append(escape(part.text) + weight)
    words.extend(escape(use.canonical) for use in uses)
    return " ".join(words)
