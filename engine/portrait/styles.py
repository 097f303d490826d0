"""Portrait styles (``/portrait imagine style:``): a prompt template and/or a LoRA of the
server's LoRA folder.

Two template-only styles ship (:data:`BUILTIN_STYLES`), so portraits have styles without any
LoRA file. A server adds or overrides styles in ``portrait_styles.json`` in ``MJ_LORA_DIR``::

    {"watercolour": {"template": "{prompt}, watercolour portrait, soft washes",
                     "lora": "watercolor", "weight": 0.7,
                     "description": "loose watercolour on rough paper"}}

``{prompt}`` is where the user's prompt goes (without it, the template follows the prompt);
``lora`` names a LoRA of the same folder (``/loras``), applied at ``weight`` (default: the
LoRA's own default) beside the person's face LoRA.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.errors import InvalidRequestError, ModelLoadError

__all__ = ["BUILTIN_STYLES", "STYLES_FILE", "PortraitStyle", "find_style", "load_styles"]

STYLES_FILE = "portrait_styles.json"


@dataclass(frozen=True, slots=True)
class PortraitStyle:
    name: str
    template: str = "{prompt}"
    lora: str | None = None
    weight: float | None = None
    description: str = ""

    def apply(self, prompt: str) -> str:
        """The user's prompt in the template."""
        return in_template(self.template, prompt)


def in_template(template: str, prompt: str) -> str:
    """``prompt`` in a style's ``template`` (at ``{prompt}``, else before it)."""
    template = template if "{prompt}" in template else "{prompt}, " + template
    return template.replace("{prompt}", prompt.strip()).strip(" ,")


BUILTIN_STYLES: dict[str, PortraitStyle] = {
    "studio": PortraitStyle(
        "studio",
        "{prompt}, studio portrait photo, soft light, plain grey backdrop, 85mm",
        description="a studio headshot: soft light, plain backdrop",
    ),
    "oil painting": PortraitStyle(
        "oil painting",
        "oil painting portrait, {prompt}, visible brush strokes, warm chiaroscuro",
        description="a classical oil portrait with brush strokes",
    ),
}


def load_styles(folder: Path | None) -> dict[str, PortraitStyle]:
    """The built-in styles, then the folder's ``portrait_styles.json`` (adding or replacing
    by name); :class:`ModelLoadError` naming the file and the entry that is wrong."""
    styles = dict(BUILTIN_STYLES)
    path = folder / STYLES_FILE if folder is not None else None
    if path is None or not path.is_file():
        return styles
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{path}: not a readable JSON file ({error})") from error
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: must be an object of style name → entry")
    for name, item in data.items():
        if not isinstance(item, dict) or not (item.get("template") or item.get("lora")):
            raise ModelLoadError(f"{path}: {name!r} needs a template, a lora, or both")
        weight = item.get("weight")
        styles[str(name)] = PortraitStyle(
            str(name),
            str(item.get("template") or "{prompt}"),
            str(item["lora"]) if item.get("lora") else None,
            float(weight) if weight is not None else None,
            str(item.get("description", "")),
        )
    return styles


def find_style(styles: dict[str, PortraitStyle], name: str) -> PortraitStyle:
    """The style called ``name`` (case-insensitive); :class:`InvalidRequestError` listing them."""
    for style in styles.values():
        if style.name.casefold() == name.strip().casefold():
            return style
    known = ", ".join(sorted(styles))
    raise InvalidRequestError(f"style {name!r}: no such portrait style; available: {known}")
