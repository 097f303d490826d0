"""What a portraits job adds to its prompt (:class:`PersonLook`), stored with its settings so
that every child keeps it and a Remix puts it back on the edited prompt."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.loras import LoraUse

__all__ = ["PersonLook"]


@dataclass(frozen=True, slots=True)
class PersonLook:
    """The person's token, the portrait style's template and the LoRAs the portrait adds (the
    face LoRA first, then the style's)."""

    token: str
    template: str | None = None
    """The style's template (``None``: no style, the prompt as written)."""
    loras: tuple[LoraUse, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "template": self.template,
            "loras": [[lora.name, lora.weight] for lora in self.loras],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PersonLook:
        return cls(
            token=str(data["token"]),
            template=None if data.get("template") is None else str(data["template"]),
            loras=tuple(
                LoraUse(str(name), None if weight is None else float(weight))
                for name, weight in data.get("loras", ())
            ),
        )
