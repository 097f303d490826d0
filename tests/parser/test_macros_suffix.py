"""/prefer option macros and /prefer suffix: expansion, precedence, errors that point home."""

from __future__ import annotations

import pytest

from parser import (
    DuplicateParameterError,
    MacroError,
    OutOfRangeError,
    PromptError,
    SuffixError,
    check_option_name,
    parse,
    parse_suffix,
)


def test_macro_expands_to_its_value() -> None:
    [prompt] = parse("vibrant California poppies --mine", options={"mine": "--s 250 --ar 7:4"})
    assert prompt.params.stylize == 250
    assert prompt.params.aspect == (7, 4)
    assert prompt.canonical == "vibrant California poppies --s 250 --ar 7:4"


def test_macro_name_is_case_insensitive_and_em_dash_works() -> None:
    [prompt] = parse("poppies —MINE", options={"Mine": "--tile"})
    assert prompt.params.tile


def test_macro_with_text_and_parameters() -> None:
    [prompt] = parse("a cat --moody", options={"moody": "dark, rainy --style raw"})
    assert prompt.parts[0].text == "a cat dark, rainy"
    assert prompt.params.style == "raw"


def test_macro_value_may_hold_permutations() -> None:
    prompts = parse("a cat --sizes", options={"sizes": "--ar {1:1, 16:9}"})
    assert [p.params.aspect for p in prompts] == [(1, 1), (16, 9)]


def test_macro_does_not_shadow_parameters_and_is_not_recursive() -> None:
    [prompt] = parse("a cat --ar 1:1", options={"ar": "--tile"})
    assert prompt.params.aspect == (1, 1)
    assert not prompt.params.tile
    with pytest.raises(PromptError):
        parse("a cat --a", options={"a": "--b", "b": "--tile"})


def test_macro_error_points_at_the_macro_name() -> None:
    text = "a cat --mine --seed 3"
    with pytest.raises(OutOfRangeError) as caught:
        parse(text, options={"mine": "--chaos 500"})
    assert text[caught.value.start : caught.value.end] == "--mine"
    assert caught.value.parameter == "chaos"


def test_macro_duplicate_with_explicit_parameter_is_an_error_at_the_second() -> None:
    text = "a cat --ar 1:1 --wide"
    with pytest.raises(DuplicateParameterError) as caught:
        parse(text, options={"wide": "--ar 16:9"})
    assert text[caught.value.start : caught.value.end] == "--wide"


def test_option_name_checks() -> None:
    assert check_option_name("--Mine") == "mine"
    assert check_option_name("my-style_2") == "my-style_2"
    for bad in ("ar", "--stylize", "video", "2fast", "", "a b", "x" * 40):
        with pytest.raises(MacroError):
            check_option_name(bad)


def test_suffix_parameters_are_appended_to_the_echo() -> None:
    [prompt] = parse("a cat --seed 3", suffix="--ar 16:9 --s 250")
    assert prompt.params.aspect == (16, 9)
    assert prompt.canonical == "a cat --seed 3 --ar 16:9 --s 250"


def test_suffix_is_overridden_by_explicit_parameters() -> None:
    [prompt] = parse("a cat --ar 2:3 --niji 6 --relax", suffix="--ar 16:9 --v 6 --fast")
    assert prompt.params.aspect == (2, 3)
    assert prompt.params.version is None
    assert prompt.params.niji is not None
    assert str(prompt.params.mode) == "relax"
    assert prompt.canonical == "a cat --ar 2:3 --niji 6 --relax"


def test_suffix_no_accumulates_with_the_prompts() -> None:
    [prompt] = parse("a cat --no dogs", suffix="--no text")
    assert prompt.params.no == ("dogs", "text")


def test_suffix_only_parameters() -> None:
    assert [u.spec.key for u in parse_suffix("--ar 16:9 --no orange")] == ["aspect", "no"]
    with pytest.raises(SuffixError) as caught:
        parse_suffix("orange::-1")
    assert caught.value.origin == "suffix"


def test_suffix_errors_point_into_the_suffix() -> None:
    with pytest.raises(PromptError) as caught:
        parse("a cat", suffix="--ar 16:9 --sw 100")
    assert caught.value.origin == "suffix"
    assert caught.value.source[caught.value.start : caught.value.end] == "--sw 100"


def test_suffix_sw_is_satisfied_by_the_prompts_sref() -> None:
    [prompt] = parse("a cat --sref 123", suffix="--sw 300")
    assert prompt.params.sw == 300


def test_suffix_with_image_only_prompt_rejects_stylize() -> None:
    with pytest.raises(PromptError) as caught:
        parse("https://x.com/a.png https://x.com/b.png", suffix="--s 250")
    assert caught.value.origin == "suffix"
