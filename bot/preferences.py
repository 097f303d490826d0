"""A user's defaults (``/settings``, ``/prefer``, ``/fast``…) and how they shape a prompt.

Order (Midjourney's): ``--name`` options expand first; the ``/prefer suffix`` is added where
the prompt does not set a parameter itself (the parser does both); then the ``/settings``
choices (version, ``--style raw``, ``--stylize``) are added where neither the prompt nor the
suffix set them. Explicit parameters always win. The speed (fast/relax/turbo) is the job's
mode unless the prompt says ``--fast``/``--relax``/``--turbo``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from db import JobMode, User, Variability
from db.users import list_options
from parser import Params, Prompt, parse, parse_one

if TYPE_CHECKING:
    from db import Database

__all__ = [
    "STYLIZE_PRESETS",
    "Preferences",
    "apply_settings",
    "load_preferences",
    "parse_with_preferences",
    "settings_parameters",
    "shown_suffix",
    "version_flag",
]

STYLIZE_PRESETS = {"low": 50, "med": 100, "high": 250, "very high": 750}
"""``/settings`` Stylize buttons → ``--s`` values (med is the default, 100)."""


@dataclass(frozen=True, slots=True)
class Preferences:
    mode: JobMode = JobMode.FAST
    remix: bool = False
    variability: Variability = Variability.HIGH
    version: str | None = None
    """A model catalog key (``6.1``, ``niji 6``…); ``None``: the default model."""
    stylize: int | None = None
    raw: bool = False
    suffix: str = ""
    options: dict[str, str] = field(default_factory=dict)

    @property
    def niji(self) -> bool:
        """The user's default model is a niji one (so the niji styles are allowed)."""
        return self.version is not None and self.version.startswith("niji")


async def load_preferences(db: Database, user_id: int) -> Preferences:
    """The user's defaults (a user never seen has the defaults: nothing is written)."""
    async with db.read() as session:
        user = await session.get(User, user_id)
        if user is None:
            return Preferences()
        options = await list_options(session, user_id)
        return Preferences(
            mode=JobMode(user.mode),
            remix=user.remix,
            variability=Variability(user.variability),
            version=user.default_version,
            stylize=user.stylize,
            raw=user.raw,
            suffix=user.suffix,
            options=options,
        )


def version_flag(key: str) -> str:
    """The parameter that selects catalog ``key``: ``--v 6.1``, ``--niji``, ``--niji 6``."""
    return f"--{key}" if key.startswith("niji") else f"--v {key}"


def settings_parameters(preferences: Preferences, prompt: Prompt | None = None) -> list[str]:
    """The ``/settings`` choices as parameters, minus what ``prompt`` already sets (an
    image-only prompt takes no ``--stylize``)."""
    params = prompt.params if prompt is not None else Params()
    image_only = prompt is not None and prompt.is_image_only
    out = []
    if preferences.version and params.version is None and params.niji is None:
        out.append(version_flag(preferences.version))
    if preferences.raw and params.style is None:
        out.append("--style raw")
    if preferences.stylize is not None and params.stylize is None and not image_only:
        out.append(f"--s {preferences.stylize}")
    return out


def apply_settings(prompt: Prompt, preferences: Preferences) -> Prompt:
    """``prompt`` with the ``/settings`` choices it does not override added."""
    extra = settings_parameters(preferences, prompt)
    return parse_one(f"{prompt.canonical} {' '.join(extra)}") if extra else prompt


def parse_with_preferences(
    text: str, preferences: Preferences, *, max_permutations: int
) -> list[Prompt]:
    """Parse what the user typed with their options, suffix and settings (raises
    :class:`~parser.PromptError`, pointing into the suffix when that is at fault)."""
    prompts = parse(
        text,
        options=preferences.options,
        suffix=preferences.suffix,
        max_permutations=max_permutations,
        niji_default=preferences.niji,
    )
    return [apply_settings(prompt, preferences) for prompt in prompts]


def shown_suffix(preferences: Preferences) -> str:
    """What every prompt gets unless it says otherwise (for the settings panel)."""
    parts = [*settings_parameters(preferences), preferences.suffix.strip()]
    return " ".join(p for p in parts if p)
