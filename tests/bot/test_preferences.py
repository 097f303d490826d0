"""How a user's options, suffix and settings shape a prompt (explicit parameters win)."""

from __future__ import annotations

import pytest

from bot.preferences import Preferences, parse_with_preferences, shown_suffix, version_flag
from db import JobMode
from parser import PromptError, SuffixError, parse_suffix

URL_A, URL_B = "https://example.com/a.png", "https://example.com/b.png"


def canonical(text: str, preferences: Preferences) -> list[str]:
    return [p.canonical for p in parse_with_preferences(text, preferences, max_permutations=10)]


def test_settings_fill_what_the_prompt_does_not_set() -> None:
    preferences = Preferences(version="6.1", stylize=250, raw=True)
    assert canonical("a cat", preferences) == ["a cat --v 6.1 --style raw --s 250"]
    assert canonical("a cat --s 10 --style raw", preferences) == [
        "a cat --s 10 --style raw --v 6.1"
    ]
    assert canonical("a cat --niji 6", preferences) == ["a cat --niji 6 --style raw --s 250"]


def test_suffix_beats_settings_and_the_prompt_beats_both() -> None:
    preferences = Preferences(stylize=750, suffix="--s 300 --ar 16:9 --no text")
    assert canonical("a cat", preferences) == ["a cat --s 300 --ar 16:9 --no text"]
    assert canonical("a cat --ar 1:1 --no dogs", preferences) == [
        "a cat --ar 1:1 --no dogs --s 300 --no text"  # only --no adds up
    ]


def test_options_expand_and_permutations_each_get_the_settings() -> None:
    preferences = Preferences(version="6", options={"wide": "--ar 21:9"})
    assert canonical("a {red, blue} car --wide", preferences) == [
        "a red car --ar 21:9 --v 6",
        "a blue car --ar 21:9 --v 6",
    ]


def test_image_only_prompts_take_no_stylize_from_settings() -> None:
    preferences = Preferences(stylize=250)
    assert canonical(f"{URL_A} {URL_B}", preferences) == [f"<{URL_A}> <{URL_B}>"]


def test_errors_point_into_the_suffix() -> None:
    with pytest.raises(PromptError) as caught:
        parse_with_preferences("a cat", Preferences(suffix="--chaos 500"), max_permutations=1)
    assert caught.value.origin == "suffix"
    with pytest.raises(SuffixError):
        parse_suffix("a cat --ar 2:3")


def test_shown_suffix_and_version_flags() -> None:
    assert shown_suffix(Preferences()) == ""
    assert shown_suffix(Preferences(version="niji 6", raw=True, suffix=" --ar 2:3 ")) == (
        "--niji 6 --style raw --ar 2:3"
    )
    assert [version_flag(k) for k in ("6.1", "niji", "niji 6")] == ["--v 6.1", "--niji", "--niji 6"]
    assert Preferences().mode is JobMode.FAST
