"""``/settings``: an ephemeral panel of the user's defaults, changed by its own controls.

Every control is a ``DynamicItem`` whose ``custom_id`` (``mjs:<setting>[:<value>]``, see
``bot.ui.custom_ids``) says what it sets, so a panel keeps working after a restart; the
clicking user's row is changed and the panel redrawn with the active choices green and the
resulting suffix shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import discord

from bot.deps import Deps
from bot.errors import UserError
from bot.preferences import STYLIZE_PRESETS, Preferences, load_preferences, shown_suffix
from bot.preferences import version_flag as _version_flag
from bot.ui.custom_ids import SETTING_PATTERN, VERSION_SELECT_ID, setting_id
from db import JobMode, Variability
from db.users import update_user

__all__ = ["Panel", "settings_message"]

DEFAULT_KEY = "default"
ON, OFF = discord.ButtonStyle.success, discord.ButtonStyle.secondary
MODES = (
    (JobMode.TURBO, "⚡", "Turbo mode"),
    (JobMode.FAST, "🐇", "Fast mode"),
    (JobMode.RELAX, "🐢", "Relax mode"),
)
SETTINGS = frozenset({"stylize", "raw", "remix", "variability", "mode", "reset"})


def _button(
    setting: str, value: str | None, label: str, emoji: str | None, active: bool, row: int
) -> discord.ui.Button[Any]:
    return discord.ui.Button(
        label=label,
        emoji=emoji,
        style=ON if active else OFF,
        row=row,
        custom_id=setting_id(setting, value),
    )


def settings_message(
    preferences: Preferences, versions: Sequence[str]
) -> tuple[str, discord.ui.View]:
    """The panel's text (the effective suffix) and controls for ``preferences``."""
    suffix = shown_suffix(preferences)
    content = "**Adjust your settings here.** Parameters you type override them.\n" + (
        f"Current suffix: `{suffix}`" if suffix else "Current suffix: none"
    )
    view = discord.ui.View(timeout=None)
    current = preferences.version or DEFAULT_KEY
    options = [
        discord.SelectOption(label=_version_label(key), value=key, default=key == current)
        for key in list(versions)[:25]
    ]
    view.add_item(
        discord.ui.Select(
            custom_id=VERSION_SELECT_ID, options=options, row=0, placeholder="Model version"
        )
    )
    stylize = preferences.stylize if preferences.stylize is not None else STYLIZE_PRESETS["med"]
    for name, value in STYLIZE_PRESETS.items():
        view.add_item(_button("stylize", str(value), f"Stylize {name}", "🖌️", value == stylize, 1))
    view.add_item(_button("raw", None, "RAW Mode", "🔧", preferences.raw, 1))
    view.add_item(_button("remix", None, "Remix mode", "🎛️", preferences.remix, 2))
    for level, label in ((Variability.HIGH, "High"), (Variability.LOW, "Low")):
        active = preferences.variability is level
        view.add_item(
            _button("variability", level.value, f"{label} Variation Mode", "🎨", active, 2)
        )
    for mode, emoji, label in MODES:
        view.add_item(_button("mode", mode.value, label, emoji, preferences.mode is mode, 3))
    view.add_item(_button("reset", None, "Reset Settings", None, False, 3))
    return content, view


def _version_label(key: str) -> str:
    return "Default model" if key == DEFAULT_KEY else _version_flag(key)


def _changes(setting: str, value: str | None) -> dict[str, Any]:
    """What a button sets (toggles are resolved against the stored value)."""
    if setting == "stylize" and value is not None:
        stylize = int(value)
        return {"stylize": None if stylize == STYLIZE_PRESETS["med"] else stylize}
    if setting == "variability" and value is not None:
        return {"variability": Variability(value)}
    if setting == "mode" and value is not None:
        return {"mode": JobMode(value)}
    if setting in ("raw", "remix"):
        return {setting: "toggle"}
    if setting == "reset":  # Midjourney's reset: latest model, Stylize med; speed unchanged
        return {"default_version": None, "stylize": None, "raw": False}
    return {}


class Panel:
    """The panel's behaviour, and the ``DynamicItem`` classes that route its clicks here."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @property
    def versions(self) -> list[str]:
        return list(self.deps.engine.catalog.sources)

    async def open(self, interaction: discord.Interaction[Any]) -> None:
        preferences = await load_preferences(self.deps.db, interaction.user.id)
        content, view = settings_message(preferences, self.versions)
        await interaction.response.send_message(content, view=view, ephemeral=True)

    async def press(
        self, interaction: discord.Interaction[Any], setting: str, value: str | None
    ) -> None:
        if setting not in SETTINGS:
            raise UserError("This button no longer works.")
        await self._apply(interaction, _changes(setting, value))

    async def choose_version(self, interaction: discord.Interaction[Any]) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        values = list(data.get("values", []))
        key = str(values[0]) if values else DEFAULT_KEY
        if key not in self.deps.engine.catalog.sources:
            raise UserError("That version is no longer available on this server.")
        await self._apply(interaction, {"default_version": None if key == DEFAULT_KEY else key})

    async def _apply(self, interaction: discord.Interaction[Any], changes: dict[str, Any]) -> None:
        user_id = interaction.user.id
        if changes:
            async with self.deps.db.session() as session:
                user = await update_user(session, user_id)
                for name, value in changes.items():
                    setattr(user, name, (not getattr(user, name)) if value == "toggle" else value)
        preferences = await load_preferences(self.deps.db, user_id)
        content, view = settings_message(preferences, self.versions)
        await interaction.response.edit_message(content=content, view=view)

    def dynamic_items(self) -> tuple[type[discord.ui.DynamicItem[Any]], ...]:
        panel, run = self, self.deps.routes.run

        class SettingButton(
            discord.ui.DynamicItem[discord.ui.Button[Any]], template=SETTING_PATTERN
        ):
            def __init__(
                self, item: discord.ui.Button[Any], setting: str, value: str | None
            ) -> None:
                super().__init__(item)
                self.setting = setting
                self.value = value

            @classmethod
            async def from_custom_id(
                cls,
                interaction: discord.Interaction[Any],
                item: discord.ui.Item[Any],
                match: re.Match[str],
            ) -> SettingButton:
                button = item if isinstance(item, discord.ui.Button) else discord.ui.Button()
                return cls(button, match["setting"], match["value"])

            async def callback(self, interaction: discord.Interaction[Any]) -> None:
                await run(interaction, panel.press(interaction, self.setting, self.value))

        class VersionSelect(
            discord.ui.DynamicItem[discord.ui.Select[Any]], template=VERSION_SELECT_ID
        ):
            @classmethod
            async def from_custom_id(
                cls,
                interaction: discord.Interaction[Any],
                item: discord.ui.Item[Any],
                match: re.Match[str],
            ) -> VersionSelect:
                return cls(item if isinstance(item, discord.ui.Select) else discord.ui.Select())

            async def callback(self, interaction: discord.Interaction[Any]) -> None:
                await run(interaction, panel.choose_version(interaction))

        return VersionSelect, SettingButton
