"""Midjourney's prompt language: text → typed :class:`Prompt` objects, or a :class:`PromptError`.

Pure Python; imports nothing from the other packages. Grammar (EBNF, after ``/prefer option``
macros and ``{…}`` permutations are expanded; ``ws`` is any Unicode whitespace)::

    prompt      = [ images ] [ text ] { param } ;
    images      = image { ( ws | "," ) { ws | "," } image } { ws | "," } ;
    image       = ( url | "<" url ">" ) [ "::" number ] ;
    url         = ( "http://" | "https://" ) host { non-ws } ;
    text        = part { "::" [ number ] part } [ "::" [ number ] ] ;
    part        = { char - param-start } ;        (* whitespace collapsed, trimmed, non-empty *)
    number      = [ "+" | "-" ] ( digits [ "." { digit } ] | "." digits ) ;
    param       = param-start name [ ws value ] ;
    param-start = ( "--" | "—" ) letter ;          (* at the start, or after ws, "," or ":" *)
    name        = letter { non-ws } ;              (* case-insensitive; see specs.PARAMS *)
    value       = { char - param-start } ;        (* runs to the next parameter *)

    (* before everything else: *)
    permutation = "{" option { "," option } "}" ; (* options trimmed, may nest *)
    escape      = "\\," | "\\{" | "\\}" ;          (* literal characters *)
    macro       = "--" option-name ;              (* a /prefer option, expanded in place *)

Rules beyond the grammar (each with its own :class:`PromptError` subclass): the number after
``::`` weighs the part before it and the weights must sum above zero; a lone image needs
text; image-only prompts reject ``--stylize``, ``--weird`` and ``--sref``; values are checked
against :data:`PARAMS` and never clamped; only ``--no`` may repeat; ``--niji``/``--v`` and
``--fast``/``--relax``/``--turbo`` exclude each other; ``--sw`` needs ``--sref`` and ``--cw``
needs ``--cref``; a glued value (``--ar16:9``) is an unknown parameter whose hint shows the
spaced form; ``--ar`` stays within 1:4 to 4:1 (:data:`MAX_ASPECT`, the engine's too);
``--style`` is ``raw``, or a niji style with ``--niji``.

Limits, so that any text parses in milliseconds: the prompt, and the prompt with macros
expanded, are at most ``max_length`` characters; permutations nest at most
:data:`MAX_NESTING` deep and make at most ``max_permutations`` prompts of at most
``max_total_length`` characters together (with the suffix); weights and numbers too large
for a float are errors, not infinities.

The canonical echo (:attr:`Prompt.canonical`) collapses spaces, writes ``—`` as ``--``, keeps
parameter names as typed and wraps image URLs in ``<…>``; parsing it gives the same prompt.
"""

from parser.errors import (
    ConflictingParametersError,
    DuplicateParameterError,
    EmptyPromptError,
    ExpansionTooLongError,
    GluedValueError,
    ImageOnlyPromptError,
    InvalidURLError,
    InvalidValueError,
    InvalidWeightError,
    MacroError,
    MissingValueError,
    OutOfRangeError,
    PermutationError,
    PromptError,
    PromptTooLongError,
    RequiresParameterError,
    SuffixError,
    TooManyPermutationsError,
    UnexpectedValueError,
    UnknownParameterError,
    UnsupportedParameterError,
)
from parser.macros import MAX_OPTIONS, check_option_name
from parser.parse import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_MAX_PERMUTATIONS,
    DEFAULT_MAX_TOTAL_LENGTH,
    parse,
    parse_one,
    parse_suffix,
)
from parser.permutations import MAX_NESTING
from parser.prompt import ImagePrompt, Mode, Niji, Params, Prompt, StyleRef, TextPart
from parser.specs import PARAMS, ParamSpec
from parser.values import MAX_ASPECT, NIJI_STYLES, STYLES

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_MAX_PERMUTATIONS",
    "DEFAULT_MAX_TOTAL_LENGTH",
    "MAX_ASPECT",
    "MAX_NESTING",
    "MAX_OPTIONS",
    "NIJI_STYLES",
    "PARAMS",
    "STYLES",
    "ConflictingParametersError",
    "DuplicateParameterError",
    "EmptyPromptError",
    "ExpansionTooLongError",
    "GluedValueError",
    "ImageOnlyPromptError",
    "ImagePrompt",
    "InvalidURLError",
    "InvalidValueError",
    "InvalidWeightError",
    "MacroError",
    "MissingValueError",
    "Mode",
    "Niji",
    "OutOfRangeError",
    "ParamSpec",
    "Params",
    "PermutationError",
    "Prompt",
    "PromptError",
    "PromptTooLongError",
    "RequiresParameterError",
    "StyleRef",
    "SuffixError",
    "TextPart",
    "TooManyPermutationsError",
    "UnexpectedValueError",
    "UnknownParameterError",
    "UnsupportedParameterError",
    "check_option_name",
    "parse",
    "parse_one",
    "parse_suffix",
]
