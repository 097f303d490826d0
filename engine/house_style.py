"""The house style: the server's default look, applied with a strength from ``--stylize``.

Midjourney renders every prompt in its own aesthetic unless ``--style raw`` asks for the
prompt as written; ``--stylize`` sets how strongly. Here a house style is a positive style
part (appended to each positive prompt part), a negative part (appended to ``--no``) and an
optional guidance change. With strength ``w`` the text conditioning is interpolated between
the prompt as written and the styled prompt, ``E = E(plain) + w·(E(styled) − E(plain))``
(for every embedding the pipeline takes: the prompt's, the negative's, SDXL's pooled ones),
and the guidance scale gains ``w·guidance``.

``w = √(s/1000)`` for ``--stylize s``: 0 at ``--s 0`` (nothing added: the plain render),
0.22 at 50, 0.32 at the default 100, 0.5 at 250, 0.87 at 750, 1 at 1000. Since ``--stylize``
also lowers the guidance (``engine/conditioning.py``), which weakens every conditioning
difference, the curve is steep enough that ``w·guidance`` still grows: the distance between
the house-styled and the raw render grows monotonically with ``--s`` (``bench/fidelity.py``).
``--style raw`` sets ``w = 0`` whatever ``--s`` is. ``--niji`` models have their own house
style and the niji styles ``cute``, ``expressive``, ``original`` and ``scenic``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.conditioning import encode
from engine.errors import InvalidRequestError
from engine.request import Style, WeightedText

__all__ = [
    "DEFAULT_HOUSE_STYLE",
    "DEFAULT_HOUSE_STYLES",
    "NIJI_HOUSE_STYLE",
    "NIJI_STYLES",
    "STYLIZE_MAX",
    "HouseStyle",
    "HouseStyles",
    "check_style",
    "house_conditioning",
    "style_strength",
]

STRENGTH_EXPONENT = 0.5
STYLIZE_MAX = 1000


@dataclass(frozen=True, slots=True)
class HouseStyle:
    """One look: text added to the prompt and to the negative prompt, and a guidance change
    (all at full strength, ``--stylize 1000``)."""

    positive: str = ""
    negative: str = ""
    guidance: float = 0.0

    @property
    def empty(self) -> bool:
        return not self.positive and not self.negative and self.guidance == 0


# Words that lift photographs and illustrations alike, without naming a medium (which would
# turn a photo prompt into a painting or back); the negative names the usual failures.
DEFAULT_HOUSE_STYLE = HouseStyle(
    positive="masterful composition, beautiful lighting, rich harmonious colours, fine detail",
    negative=(
        "low quality, blurry, jpeg artifacts, deformed, disfigured, bad anatomy, "
        "watermark, text, signature, dull colours"
    ),
)
NIJI_HOUSE_STYLE = HouseStyle(
    positive="anime illustration, vibrant colours, clean line art, expressive, detailed",
    negative="low quality, blurry, sketchy, deformed, bad anatomy, watermark, text",
)
NIJI_STYLES: Mapping[Style, HouseStyle] = {
    Style.CUTE: HouseStyle(
        "cute anime illustration, kawaii, soft pastel colours, rounded shapes, charming",
        NIJI_HOUSE_STYLE.negative,
    ),
    Style.EXPRESSIVE: HouseStyle(
        "expressive anime illustration, dynamic pose, dramatic lighting, bold strokes",
        NIJI_HOUSE_STYLE.negative,
    ),
    Style.ORIGINAL: HouseStyle(
        "classic anime key visual, cel shading, crisp outlines, flat vivid colours",
        NIJI_HOUSE_STYLE.negative,
    ),
    Style.SCENIC: HouseStyle(
        "scenic anime background art, cinematic landscape, atmospheric light, wide view",
        NIJI_HOUSE_STYLE.negative,
    ),
}


@dataclass(frozen=True, slots=True)
class HouseStyles:
    """The house styles of a server: the default models', the niji models' and the niji
    styles (``EngineConfig.house_styles``)."""

    default: HouseStyle = DEFAULT_HOUSE_STYLE
    niji: HouseStyle = NIJI_HOUSE_STYLE
    niji_styles: Mapping[Style, HouseStyle] = field(default_factory=lambda: dict(NIJI_STYLES))

    def for_request(self, style: Style | None, version: str | None) -> HouseStyle | None:
        """The look a request renders in (``None`` for raw); a niji style needs a niji
        version (raises :class:`InvalidRequestError`)."""
        niji = version is not None and version.startswith("niji")
        style = None if style is None else Style(style)
        if style is Style.RAW:
            return None
        if style is None:
            return self.niji if niji else self.default
        if not niji:
            raise InvalidRequestError(f"--style {style} needs --niji; without it use --style raw")
        return self.niji_styles.get(style, self.niji)


DEFAULT_HOUSE_STYLES = HouseStyles()


def check_style(name: str | None, *, niji: bool) -> Style | None:
    """The :class:`Style` for a ``--style`` value (for the bot, at submission): ``raw``
    always, the niji styles only for a niji model; anything else is an
    :class:`InvalidRequestError` naming the accepted values."""
    if name is None:
        return None
    allowed = [Style.RAW, *(NIJI_STYLES if niji else ())]
    try:
        style = Style(name.lower())
    except ValueError:
        style = None
    if style not in allowed:
        accepted = ", ".join(str(s) for s in allowed)
        where = "" if niji else " (cute, expressive, original and scenic need --niji)"
        raise InvalidRequestError(f"--style {name} is not a known style; use {accepted}{where}")
    return style


def style_strength(stylize: int) -> float:
    """The house style's strength for ``--stylize`` (0–1000): ``√(s/1000)``."""
    if not 0 <= stylize <= STYLIZE_MAX:
        raise InvalidRequestError(f"stylize must be 0–{STYLIZE_MAX}, not {stylize}")
    return float((stylize / STYLIZE_MAX) ** STRENGTH_EXPONENT)


def house_conditioning(
    pipe: Any,
    parts: Sequence[WeightedText],
    negative: str,
    count: int,
    sdxl: bool,
    house: HouseStyle | None,
    strength: float,
) -> dict[str, Any]:
    """The pipeline's conditioning inputs with ``house`` applied at ``strength``; without a
    house style or at strength 0 exactly the plain prompt's."""
    plain = encode(pipe, parts, negative, count, sdxl)
    if house is None or strength <= 0 or (not house.positive and not house.negative):
        return plain
    styled_parts = [
        WeightedText(f"{p.text}, {house.positive}" if p.text else house.positive, p.weight)
        if p.weight > 0 and house.positive
        else p
        for p in parts
    ] or [WeightedText(house.positive)]
    styled_negative = ", ".join(text for text in (negative, house.negative) if text)
    styled = encode(pipe, styled_parts, styled_negative, count, sdxl)
    return {name: plain[name] + strength * (styled[name] - plain[name]) for name in plain}
