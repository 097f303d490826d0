"""Label banks for ``/describe``: generic style words that CLIP ranks against an image.

Each bank fills one slot of a described prompt (``caption, medium, style, lighting, colour,
composition``). The words are generic on purpose: no artist or brand names, so a prompt never
imitates a living person, and nothing the prompt grammar reads as syntax (``--``, ``::``,
``{}``, URLs).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LABEL_BANKS", "LabelBank"]


@dataclass(frozen=True, slots=True)
class LabelBank:
    """A named list of interchangeable terms; one of them goes into each prompt."""

    name: str
    terms: tuple[str, ...]


MEDIUMS = LabelBank(
    "medium",
    (
        "photograph",
        "film photograph",
        "polaroid photo",
        "black and white photograph",
        "studio portrait",
        "macro photograph",
        "aerial photograph",
        "oil painting",
        "acrylic painting",
        "watercolor painting",
        "gouache painting",
        "digital painting",
        "digital art",
        "concept art",
        "matte painting",
        "3d render",
        "low poly render",
        "isometric illustration",
        "vector illustration",
        "ink illustration",
        "children's book illustration",
        "anime illustration",
        "comic book art",
        "pixel art",
        "pencil sketch",
        "charcoal drawing",
        "pastel drawing",
        "line art",
        "woodblock print",
        "linocut print",
        "screen print",
        "collage",
        "papercut art",
        "claymation",
        "stained glass",
        "mosaic",
        "sculpture",
        "architectural rendering",
    ),
)

STYLES = LabelBank(
    "style",
    (
        "impressionism",
        "post-impressionism",
        "expressionism",
        "surrealism",
        "cubism",
        "fauvism",
        "pointillism",
        "art nouveau",
        "art deco",
        "baroque",
        "rococo",
        "renaissance",
        "romanticism",
        "realism",
        "hyperrealism",
        "photorealism",
        "minimalism",
        "pop art",
        "bauhaus",
        "constructivism",
        "ukiyo-e",
        "abstract art",
        "street art",
        "folk art",
        "gothic",
        "fantasy art",
        "dark fantasy",
        "science fiction",
        "cyberpunk",
        "steampunk",
        "solarpunk",
        "retro futurism",
        "vaporwave",
        "synthwave",
        "film noir",
        "cottagecore",
        "brutalism",
    ),
)

LIGHTING = LabelBank(
    "lighting",
    (
        "golden hour",
        "blue hour",
        "soft light",
        "natural light",
        "diffused light",
        "overcast light",
        "harsh sunlight",
        "dramatic lighting",
        "cinematic lighting",
        "studio lighting",
        "rim light",
        "backlit",
        "volumetric light",
        "god rays",
        "lens flare",
        "neon lights",
        "candlelight",
        "firelight",
        "moonlight",
        "twilight",
        "spotlight",
        "chiaroscuro",
        "low key lighting",
        "high key lighting",
        "bioluminescent glow",
        "foggy atmosphere",
    ),
)

COLOURS = LabelBank(
    "colour",
    (
        "vibrant colors",
        "bold colors",
        "rich colors",
        "muted colors",
        "pastel colors",
        "neon colors",
        "jewel tones",
        "earthy tones",
        "warm tones",
        "cool tones",
        "sepia tones",
        "monochrome",
        "duotone",
        "desaturated",
        "high contrast",
        "low contrast",
        "dark palette",
        "light palette",
        "teal and orange",
        "red and gold",
        "black and gold",
        "blue and white",
        "green and brown",
        "pink and purple",
        "iridescent",
        "metallic sheen",
        "soft gradients",
        "faded film colors",
    ),
)

COMPOSITION = LabelBank(
    "composition",
    (
        "close-up",
        "extreme close-up",
        "medium shot",
        "wide shot",
        "wide angle",
        "panoramic view",
        "aerial view",
        "bird's eye view",
        "low angle",
        "high angle",
        "eye level",
        "symmetrical composition",
        "centered composition",
        "rule of thirds",
        "negative space",
        "leading lines",
        "silhouette",
        "reflection",
        "double exposure",
        "shallow depth of field",
        "bokeh",
        "tilt-shift",
        "long exposure",
        "motion blur",
        "fisheye lens",
        "telephoto lens",
        "35mm film",
        "grainy film",
        "sharp focus",
        "soft focus",
        "intricate details",
        "highly detailed",
    ),
)

LABEL_BANKS: tuple[LabelBank, ...] = (MEDIUMS, STYLES, LIGHTING, COLOURS, COMPOSITION)
"""The banks in prompt order."""
