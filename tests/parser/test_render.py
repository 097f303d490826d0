"""Golden tests for PromptError.render(): the window of the prompt and the caret under it."""

from __future__ import annotations

import pytest

from parser import PromptError, parse

LONG = (
    "A breathtaking panoramic view of an ancient elven city nestled in a colossal tree, "
    "glowing lanterns --ar 21:9 --s 6000 --c 5 --v 6"
)

GOLDEN: list[tuple[str, str]] = [
    ("cat --chaos 150", "cat --chaos 150\n            ^~~"),
    ("cat --ar", "cat --ar\n    ^~~~"),
    ("a {b, c", "a {b, c\n  ^"),
    ("cat --ar16:9 --seed 1", "cat --ar16:9 --seed 1\n    ^~~~~~~~"),
    # long prompts are cut around the problem, with an ellipsis where cut
    (
        LONG,
        "… tree, glowing lanterns --ar 21:9 --s 6000 --c 5 --v 6\n"
        "                                       ^~~~",
    ),
    (
        "a cat " + "very " * 20 + "--tile seamless " + "and more " * 10,
        "… very very --tile seamless and more and more and more …\n"
        "                   ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~",
    ),
    # wide characters count two columns so the caret stays under the value
    ("熊猫在竹林里 --ar 2.5:1", "熊猫在竹林里 --ar 2.5:1\n                  ^~~~~"),
    ("🐱 astronaut 🚀 --tile x", "🐱 astronaut 🚀 --tile x\n                       ^"),
    # newlines and tabs are shown as spaces, keeping columns
    ("a\tcat\n--c 101", "a cat --c 101\n          ^~~"),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN, ids=[g[0][:30] for g in GOLDEN])
def test_render_golden(text: str, expected: str) -> None:
    with pytest.raises(PromptError) as caught:
        parse(text)
    assert caught.value.render() == expected


def test_render_suffix_error_shows_the_suffix() -> None:
    with pytest.raises(PromptError) as caught:
        parse("a cat", suffix="--ar 1:1 --chaos 500")
    assert caught.value.origin == "suffix"
    assert caught.value.render() == "--ar 1:1 --chaos 500\n                 ^~~"


def test_render_window_never_exceeds_width() -> None:
    text = "x" * 300 + " --c 999 --seed 1"
    with pytest.raises(PromptError) as caught:
        parse(text)
    line, caret = caught.value.render(width=40).splitlines()
    assert len(line) <= 40
    assert line[len(caret) - 3 : len(caret)] == "999"
