"""Permutation prompts: Cartesian product, nesting, escapes, trimming, limits."""

from __future__ import annotations

import pytest

from parser import parse


def texts(text: str, **kwargs: object) -> list[str]:
    return [p.canonical for p in parse(text, **kwargs)]  # type: ignore[arg-type]


def test_permutations_one_group_gives_one_prompt_per_option() -> None:
    assert texts("a {red, green, yellow} bird") == ["a red bird", "a green bird", "a yellow bird"]


def test_permutations_groups_multiply_in_reading_order() -> None:
    assert texts("a {red, green} bird in the {jungle, desert}") == [
        "a red bird in the jungle",
        "a red bird in the desert",
        "a green bird in the jungle",
        "a green bird in the desert",
    ]


def test_permutations_nest() -> None:
    prompts = texts(
        "A {sculpture, painting} of a {seagull {on a pier, on a beach}, "
        "poodle {on a sofa, in a truck}}."
    )
    assert len(prompts) == 8
    assert prompts[0] == "A sculpture of a seagull on a pier."
    assert prompts[-1] == "A painting of a poodle in a truck."


def test_permutations_escaped_comma_is_literal() -> None:
    assert texts("{red, pastel\\, yellow} bird") == ["red bird", "pastel, yellow bird"]


def test_permutations_escaped_braces_are_literal() -> None:
    [prompt] = parse("a \\{curly\\} word")
    assert prompt.parts[0].text == "a {curly} word"
    assert prompt.canonical == "a \\{curly\\} word"


def test_permutations_options_are_trimmed() -> None:
    assert texts("a{b ,  c}d") == ["abd", "acd"]


def test_permutations_apply_to_parameters_and_urls() -> None:
    prompts = parse("a bird --ar {3:2, 1:1, 2:3}")
    assert [p.params.aspect for p in prompts] == [(3, 2), (1, 1), (2, 3)]
    prompts = parse("{https://x.com/a.png, https://x.com/b.png} a cat")
    assert [p.images[0].url for p in prompts] == ["https://x.com/a.png", "https://x.com/b.png"]
    prompts = parse("a bird --{v 5, niji}")
    assert [(p.params.version, p.params.niji) for p in prompts] == [
        ("5", None),
        (None, prompts[1].params.niji),
    ]


def test_permutations_empty_option_drops_the_words() -> None:
    assert texts("a {big,} dog") == ["a big dog", "a dog"]


def test_permutations_commas_outside_braces_are_text() -> None:
    assert texts("red, green, blue") == ["red, green, blue"]


def test_permutations_limit_is_configurable() -> None:
    assert len(parse("{a,b,c,d,e}", max_permutations=5)) == 5


@pytest.mark.parametrize("limit", [1, 4, 10, 40])
def test_permutations_at_limit_pass_above_limit_fail(limit: int) -> None:
    from parser import TooManyPermutationsError

    options = ", ".join(f"w{i}" for i in range(limit))
    assert len(parse(f"{{{options}}} cat", max_permutations=limit)) == limit
    with pytest.raises(TooManyPermutationsError):
        parse(f"{{{options}, extra}} cat", max_permutations=limit)


def test_permutations_keep_repeat_as_a_parameter() -> None:
    prompts = parse("a {cat, dog} --repeat 3")
    assert [p.params.repeat for p in prompts] == [3, 3]
