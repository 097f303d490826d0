"""Buttons by registration: every feature's placements give Midjourney's layout, custom_ids
within Discord's rules that route back to a handler, and unknown actions start nothing."""

from __future__ import annotations

import importlib
import re
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest

from bot.exts import feature_names
from bot.ui.custom_ids import BUTTON_PATTERN, ButtonId
from bot.ui.routing import BUTTON_GONE, ImageContext, Routes, Surface

JOB = str(uuid.uuid4())


@pytest.fixture
async def routes(tmp_path: Path) -> Routes:
    """The routes as the bot has them: every feature's ``setup`` registered against them."""
    routes = Routes(on_error=AsyncMock())
    deps = MagicMock()
    deps.routes = routes
    deps.settings.mj_secret = None
    deps.settings.mj_data_dir = tmp_path
    bot = SimpleNamespace(
        deps=deps, add_cog=AsyncMock(), add_listener=MagicMock(), add_dynamic_items=MagicMock()
    )
    for name in feature_names():
        await importlib.import_module(name).setup(bot)
    return routes


def rows(view: discord.ui.View) -> list[list[Any]]:
    layout: dict[int, list[Any]] = {}
    for item in view.children:
        layout.setdefault(item.row or 0, []).append(item)
    return [layout[r] for r in sorted(layout)]


def labels(view: discord.ui.View) -> list[list[str]]:
    return [[str(i.label or i.emoji) for i in row] for row in rows(view)]


def test_grid_view_is_u_row_and_v_row(routes: Routes) -> None:
    view = routes.view(Surface.GRID, ImageContext(JOB))
    assert labels(view) == [["U1", "U2", "U3", "U4", "🔄"], ["V1", "V2", "V3", "V4"]]
    styles = {i.label: i.style for i in view.children}
    assert styles["V1"] is discord.ButtonStyle.secondary
    remix = routes.view(Surface.GRID, ImageContext(JOB, remix=True))
    assert {i.style for i in remix.children if str(i.label).startswith("V")} == {
        discord.ButtonStyle.success
    }


def test_single_view_rows(routes: Routes) -> None:
    view = routes.view(Surface.SINGLE, ImageContext(JOB, 2, 512, 256))
    assert labels(view) == [
        [
            "Upscale (Subtle)",
            "Upscale (Creative)",
            "Vary (Subtle)",
            "Vary (Strong)",
            "Vary (Region)",
        ],
        ["Zoom Out 2x", "Zoom Out 1.5x", "Custom Zoom", "Make Square"],
        ["⬅️", "➡️", "⬆️", "⬇️"],
        ["Vary (Reference)", "Retexture", "Change Background", "Style Transfer"],
    ]
    square = routes.view(Surface.SINGLE, ImageContext(JOB, 2, 256, 256))
    assert "Make Square" not in str(labels(square))
    upscaled = routes.view(Surface.SINGLE, ImageContext(JOB, 1, 512, 512, upscaled=True))
    assert "Upscale (Subtle)" not in str(labels(upscaled))


def test_waiting_and_describe_views(routes: Routes) -> None:
    assert labels(routes.view(Surface.WAITING, ImageContext(JOB))) == [["❌"]]
    assert labels(routes.view(Surface.DESCRIBE, ImageContext(JOB))) == [
        ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "🔄"],
        ["Imagine all"],
    ]


def test_custom_ids_fit_discord_and_parse_back(routes: Routes) -> None:
    pattern = re.compile(BUTTON_PATTERN)
    for surface in Surface:
        view = routes.view(surface, ImageContext(JOB, 4, 300, 200))
        assert all(len(row) <= 5 for row in rows(view))
        for item in view.children:
            custom_id = item.custom_id  # type: ignore[attr-defined]
            assert len(custom_id) <= 100
            match = pattern.fullmatch(custom_id)
            assert match is not None
            assert match["job"] == JOB


def test_a_registered_action_twice_is_refused(routes: Routes) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        routes.add_button("u", AsyncMock())


async def test_an_unknown_action_says_so_and_starts_nothing(routes: Routes) -> None:
    interaction = MagicMock()
    interaction.response.send_message = AsyncMock()
    handlers = [AsyncMock() for _ in range(2)]
    routes.add_button("known", handlers[0])
    await routes.press(interaction, ButtonId("made_up_by_v9", JOB, 1))
    interaction.response.send_message.assert_awaited_once_with(BUTTON_GONE, ephemeral=True)
    handlers[0].assert_not_awaited()
    await routes.press(interaction, ButtonId("known", JOB, 1))
    handlers[0].assert_awaited_once()


async def test_a_failing_handler_goes_to_the_one_error_hook() -> None:
    hook = AsyncMock()
    routes = Routes(on_error=hook)
    error = RuntimeError("boom")
    routes.add_button("boom", AsyncMock(side_effect=error))
    interaction = MagicMock()
    await routes.press(interaction, ButtonId("boom", JOB, 1))
    hook.assert_awaited_once_with(interaction, error)


def test_outpaint_buttons_only_where_they_can_run(routes: Routes) -> None:
    # 16:9 panned sideways twice is 3.9:1; a third sideways pan would pass 4:1.
    wide = routes.view(Surface.SINGLE, ImageContext(JOB, 1, 1600, 408))
    shown = [str(i.label or i.emoji) for i in wide.children]
    assert "⬅️" not in shown
    assert "➡️" not in shown
    assert {"⬆️", "⬇️", "Zoom Out 2x", "Make Square"} <= set(shown)
    usual = routes.view(Surface.SINGLE, ImageContext(JOB, 1, 1456, 816))
    assert {"⬅️", "➡️", "⬆️", "⬇️"} <= {str(i.label or i.emoji) for i in usual.children}
