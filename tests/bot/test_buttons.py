"""Buttons: Midjourney's layout, custom_ids within Discord's rules, parseable back."""

from __future__ import annotations

import re
import uuid
from typing import Any

import discord

from bot.buttons import grid_view, single_view
from bot.custom_ids import BUTTON_PATTERN, Action

JOB = str(uuid.uuid4())


def rows(view: discord.ui.View) -> list[list[Any]]:
    layout: dict[int, list[Any]] = {}
    for item in view.children:
        layout.setdefault(item.row or 0, []).append(item)
    return [layout[r] for r in sorted(layout)]


def labels(view: discord.ui.View) -> list[list[str]]:
    return [[str(i.item.label or i.item.emoji) for i in row] for row in rows(view)]


def test_grid_view_is_u_row_and_v_row() -> None:
    assert labels(grid_view(JOB)) == [["U1", "U2", "U3", "U4", "🔄"], ["V1", "V2", "V3", "V4"]]


def test_single_view_rows() -> None:
    view = single_view(JOB, 2, square=False)
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
    ]
    assert "Make Square" not in str(labels(single_view(JOB, 2, square=True)))
    assert "Upscale (Subtle)" not in str(labels(single_view(JOB, 1, True, upscaled=True)))


def test_custom_ids_fit_discord_and_parse_back() -> None:
    pattern = re.compile(BUTTON_PATTERN)
    for view in (grid_view(JOB), single_view(JOB, 4, square=False)):
        assert all(len(row) <= 5 for row in rows(view))
        for item in view.children:
            custom_id = item.item.custom_id  # type: ignore[attr-defined]
            assert len(custom_id) <= 100
            match = pattern.fullmatch(custom_id)
            assert match is not None
            assert match["job"] == JOB
            Action(match["action"])
