"""``/settings``: an ephemeral panel of the user's defaults, changed by its own controls.

Every control is a ``DynamicItem`` whose ``custom_id`` (``mjs:<setting>[:<value>]``) says what
it sets, so a panel keeps working after a restart; the clicking user's row is changed and the
panel redrawn with the active choices green and the resulting suffix shown.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.preferences import STYLIZE_PRESETS, Preferences, load_preferences, shown_suffix
from bot.preferences import version_flag as _version_flag
from db import JobMode, Variability
from db.users import update_user

if TYPE_CHECKING:
    from bot.service import JobService

__all__ = ["SettingButton", "VersionSelect", "settings", "settings_message"]

SETTING_PATTERN = (
    r"mjs:(?P<setting>stylize|raw|remix|variability|mode|reset)(?::(?P<value>[a-z0-9]+))?"
)
VERSION_ID = "mjs:version"
DEFAULT_KEY = "default"
ON, OFF = discord.ButtonStyle.success, discord.ButtonStyle.secondary
MODES = (
    (JobMode.TURBO, "⚡", "Turbo mode"),
    (JobMode.FAST, "🐇", "Fast mode"),
    (JobMode.RELAX, "🐢", "Relax mode"),
)


@app_commands.command(name="settings", description="View and change your settings")
async def settings(interaction: discord.Interaction[Any]) -> None:
    service: JobService = interaction.client.service
    preferences = await load_preferences(service.db, interaction.user.id)
    content, view = settings_message(preferences, list(service.engine.catalog.sources))
    await interaction.response.send_message(content, view=view, ephemeral=True)


def settings_message(preferences: Preferences, versions: list[str]) -> tuple[str, discord.ui.View]:
    """The panel's text (the effective suffix) and controls for ``preferences``."""
    suffix = shown_suffix(preferences)
    content = "**Adjust your settings here.** Parameters you type override them.\n" + (
        f"Current suffix: `{suffix}`" if suffix else "Current suffix: none"
    )
    view = discord.ui.View(timeout=None)
    view.add_item(VersionSelect.build(preferences.version, versions))
    stylize = preferences.stylize if preferences.stylize is not None else STYLIZE_PRESETS["med"]
    for name, value in STYLIZE_PRESETS.items():
        view.add_item(
            SettingButton.build("stylize", str(value), f"Stylize {name}", "🖌️", value == stylize, 1)
        )
    view.add_item(SettingButton.build("raw", None, "RAW Mode", "🔧", preferences.raw, 1))
    view.add_item(SettingButton.build("remix", None, "Remix mode", "🎛️", preferences.remix, 2))
    for level, label in ((Variability.HIGH, "High"), (Variability.LOW, "Low")):
        active = preferences.variability is level
        view.add_item(
            SettingButton.build(
                "variability", level.value, f"{label} Variation Mode", "🎨", active, 2
            )
        )
    for mode, emoji, label in MODES:
        view.add_item(
            SettingButton.build("mode", mode.value, label, emoji, preferences.mode is mode, 3)
        )
    view.add_item(SettingButton.build("reset", None, "Reset Settings", None, False, 3))
    return content, view


class SettingButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=SETTING_PATTERN):
    def __init__(self, setting: str, value: str | None, button: discord.ui.Button[Any]) -> None:
        super().__init__(button)
        self.setting = setting
        self.value = value

    @classmethod
    def build(
        cls,
        setting: str,
        value: str | None,
        label: str,
        emoji: str | None,
        active: bool,
        row: int,
    ) -> SettingButton:
        custom_id = f"mjs:{setting}:{value}" if value is not None else f"mjs:{setting}"
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=label, emoji=emoji, style=ON if active else OFF, row=row, custom_id=custom_id
        )
        return cls(setting, value, button)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> SettingButton:
        button = item if isinstance(item, discord.ui.Button) else discord.ui.Button()
        return cls(match["setting"], match["value"], button)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        changes = _changes(self.setting, self.value)
        await _apply(interaction, changes)


class VersionSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=VERSION_ID):
    """The model for prompts without ``--v``/``--niji``: the server's configured versions."""

    def __init__(self, select: discord.ui.Select[Any]) -> None:
        super().__init__(select)

    @classmethod
    def build(cls, current: str | None, versions: list[str]) -> VersionSelect:
        options = [
            discord.SelectOption(
                label=_version_label(key),
                value=key,
                default=key == (current or DEFAULT_KEY),
            )
            for key in versions[:25]
        ]
        select: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=VERSION_ID, options=options, row=0, placeholder="Model version"
        )
        return cls(select)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VersionSelect:
        select = item if isinstance(item, discord.ui.Select) else discord.ui.Select()
        return cls(select)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        values = list(data.get("values", []))
        key = str(values[0]) if values else DEFAULT_KEY
        service: JobService = interaction.client.service
        if key not in service.engine.catalog.sources:
            await interaction.response.send_message(
                "That version is no longer available on this server.", ephemeral=True
            )
            return
        await _apply(interaction, {"default_version": None if key == DEFAULT_KEY else key})


def _version_label(key: str) -> str:
    return "Default model" if key == DEFAULT_KEY else _version_flag(key)


def _changes(setting: str, value: str | None) -> dict[str, Any]:
    """What a button sets (toggles are resolved against the stored value in ``_apply``)."""
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


async def _apply(interaction: discord.Interaction[Any], changes: dict[str, Any]) -> None:
    service: JobService = interaction.client.service
    user_id = interaction.user.id
    if changes:
        async with service.db.session() as session:
            user = await update_user(session, user_id)
            for name, value in changes.items():
                setattr(user, name, (not getattr(user, name)) if value == "toggle" else value)
    preferences = await load_preferences(service.db, user_id)
    content, view = settings_message(preferences, list(service.engine.catalog.sources))
    await interaction.response.edit_message(content=content, view=view)
