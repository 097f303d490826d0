"""Typed result of parsing: a :class:`Prompt` with image prompts, weighted text and parameters."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

__all__ = ["ImagePrompt", "LoraRef", "Mode", "Niji", "Params", "Prompt", "StyleRef", "TextPart"]


class Mode(StrEnum):
    """GPU speed of a job (``--fast``, ``--relax``, ``--turbo``)."""

    FAST = "fast"
    RELAX = "relax"
    TURBO = "turbo"


@dataclass(frozen=True, slots=True)
class ImagePrompt:
    """A leading image URL; ``weight`` comes from ``url::2`` (default 1)."""

    url: str
    weight: float = 1.0
    weight_text: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TextPart:
    """One concept of a ``::`` multi-prompt. Negative weights subtract the concept."""

    text: str
    weight: float = 1.0
    weight_text: str | None = field(default=None, compare=False, repr=False)
    """The ``::`` written after the part: ``None`` when none, ``""`` for a bare ``::``."""


@dataclass(frozen=True, slots=True)
class StyleRef:
    """One ``--sref`` entry: an image URL, a numeric style code, or ``"random"``."""

    ref: str
    weight: float = 1.0

    @property
    def is_url(self) -> bool:
        return self.ref.startswith(("http://", "https://"))

    @property
    def is_code(self) -> bool:
        return self.ref.isascii() and self.ref.isdigit()


@dataclass(frozen=True, slots=True)
class LoraRef:
    """One ``--lora`` entry: a LoRA's name and its ``::`` weight (``None``: its default)."""

    name: str
    weight: float | None = None


@dataclass(frozen=True, slots=True)
class Niji:
    """``--niji`` with its version, or ``None`` for the latest."""

    version: str | None = None


@dataclass(frozen=True, slots=True)
class Params:
    """Parameters as given in the prompt; ``None`` (or empty) means "not given, use defaults"."""

    aspect: tuple[int, int] | None = None
    chaos: int | None = None
    no: tuple[str, ...] = ()
    quality: float | None = None
    repeat: int | None = None
    seed: int | None = None
    stop: int | None = None
    style: str | None = None
    stylize: int | None = None
    tile: bool = False
    weird: int | None = None
    iw: float | None = None
    sref: tuple[StyleRef, ...] = ()
    sw: int | None = None
    cref: tuple[str, ...] = ()
    cw: int | None = None
    lora: tuple[LoraRef, ...] = ()
    niji: Niji | None = None
    version: str | None = None
    mode: Mode | None = None
    zoom: float | None = None

    def given(self) -> dict[str, Any]:
        """The parameters given explicitly, by canonical long name."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and value != () and value is not False:
                out[f.name] = value
        return out

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form of :meth:`given` (the ``params`` object of ``mjbot parse --json``)."""
        out: dict[str, Any] = {}
        for name, value in self.given().items():
            if name == "aspect" or name == "no" or name == "cref":
                out[name] = list(value)
            elif name == "sref":
                out[name] = [{"ref": s.ref, "weight": s.weight} for s in value]
            elif name == "lora":
                out[name] = [{"name": r.name, "weight": r.weight} for r in value]
            elif name == "niji":
                out[name] = value.version
            elif name == "mode":
                out[name] = str(value)
            else:
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class Prompt:
    """One prompt, after macros, suffix and permutations: what a single job renders."""

    images: tuple[ImagePrompt, ...]
    parts: tuple[TextPart, ...]
    params: Params
    canonical: str
    """The echo shown in ``**…**`` in Discord messages; parsing it gives this prompt back."""

    @property
    def text(self) -> str:
        """The text of all parts with positive weight, joined (for captions, file names)."""
        return ", ".join(p.text for p in self.parts if p.weight > 0)

    @property
    def is_image_only(self) -> bool:
        return bool(self.images) and not self.parts

    def to_json(self) -> dict[str, Any]:
        return {
            "images": [{"url": i.url, "weight": i.weight} for i in self.images],
            "parts": [{"text": p.text, "weight": p.weight} for p in self.parts],
            "params": self.params.to_json(),
            "canonical": self.canonical,
        }
