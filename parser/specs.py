"""The parameter table: one :class:`ParamSpec` per parameter drives parsing, validation and docs.

Each spec names the parameter (canonical long name first, then aliases), converts the raw
value text to a typed value (with a converter from :mod:`parser.values`), and describes itself
for ``/help`` and the README table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parser.prompt import Mode
from parser.values import (
    MAX_ASPECT,
    NIJI_STYLES,
    STYLES,
    to_aspect,
    to_choice,
    to_flag,
    to_float,
    to_int,
    to_list,
    to_niji,
    to_quality,
    to_style,
)
from parser.weighted import to_loras, to_style_refs, to_urls

__all__ = ["PARAMS", "SPECS_BY_NAME", "UNSUPPORTED", "ParamSpec", "lookup"]

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


PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "aspect",
        ("ar", "aspect"),
        to_aspect,
        f"W:H, whole numbers, 1:{MAX_ASPECT:g} to {MAX_ASPECT:g}:1",
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
        to_style,
        f"{', '.join(STYLES)}; with --niji: {', '.join(NIJI_STYLES)}",
        "—",
        "Style preset; raw means less of the house style.",
        choices=(*STYLES, *NIJI_STYLES),
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
        "lora",
        ("lora",),
        to_loras,
        "names, each ::weight 0–2; up to 4",
        "—",
        "Apply LoRAs from this server's LoRA folder (listed by /loras) to this job.",
        repeatable=True,
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
        "Run this job in turbo mode: ahead of fast jobs, double GPU time; same steps and image.",
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
