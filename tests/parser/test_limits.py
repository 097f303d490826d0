"""Hostile input: deep nesting, huge numbers, long words and runaway expansions are ordinary
PromptErrors with a span, in bounded time and memory (issue 13, items 1 and 9)."""

from __future__ import annotations

import tracemalloc

import pytest

from parser import (
    DEFAULT_MAX_LENGTH,
    DEFAULT_MAX_TOTAL_LENGTH,
    MAX_NESTING,
    ExpansionTooLongError,
    InvalidValueError,
    InvalidWeightError,
    OutOfRangeError,
    PermutationError,
    PromptError,
    UnknownParameterError,
    parse,
)

DIGITS = "7" * 5000  # past int()'s 4,300-digit limit
FLOAT_DIGITS = "9" * 400  # past float's range: inf


def error_of(text: str, **kwargs: object) -> PromptError:
    with pytest.raises(PromptError) as caught:
        parse(text, **kwargs)  # type: ignore[arg-type]
    return caught.value


def covered(text: str, error: PromptError) -> str:
    return text[error.start : error.end]


def test_limits_nesting_past_the_limit_is_an_error_at_the_brace() -> None:
    deepest = "{" * MAX_NESTING + "x, y" + "}" * MAX_NESTING
    assert len(parse(deepest)) == 2
    for depth in (MAX_NESTING + 1, 2999):  # 2,999 was a RecursionError
        text = "{" * depth + "x" + "}" * depth
        error = error_of(text)
        assert type(error) is PermutationError
        assert (error.start, error.end) == (MAX_NESTING, MAX_NESTING + 1)
        assert f"more than {MAX_NESTING} deep" in error.msg


@pytest.mark.parametrize(
    "name", ["seed", "chaos", "stylize", "weird", "stop", "repeat", "cw", "sw"]
)
def test_limits_integer_with_thousands_of_digits_is_out_of_range(name: str) -> None:
    needs = {"sw": " --sref 1", "cw": " --cref https://x.com/a.png"}.get(name, "")
    text = f"cat --{name} {DIGITS}{needs}"
    error = error_of(text)
    assert type(error) is OutOfRangeError
    assert covered(text, error) == DIGITS
    assert len(error.msg) < 120  # the message quotes the start of the number, not all of it


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (f"cat --iw {FLOAT_DIGITS}", FLOAT_DIGITS),  # was fine; now the message is short too
        (f"cat --zoom {FLOAT_DIGITS}.5", f"{FLOAT_DIGITS}.5"),
        (f"cat --q {DIGITS}", DIGITS),
        (f"cat --ar {DIGITS}:1", f"{DIGITS}:1"),  # was ValueError (int of 5,000 digits)
        (f"cat --ar 1:{FLOAT_DIGITS}", f"1:{FLOAT_DIGITS}"),
        (f"cat --sref {DIGITS}", DIGITS),  # was ValueError
    ],
)
def test_limits_huge_parameter_values_are_out_of_range(text: str, value: str) -> None:
    error = error_of(text)
    assert isinstance(error, InvalidValueError)
    assert covered(text, error) == value
    assert len(error.msg) < 160


def test_limits_huge_decimal_aspect_gets_a_hint_not_an_overflow() -> None:
    text = f"cat --ar 1.{FLOAT_DIGITS}:1"  # was OverflowError while writing the hint
    error = error_of(text)
    assert type(error) is InvalidValueError
    assert covered(text, error) == f"1.{FLOAT_DIGITS}:1"
    assert error.hint is not None
    assert len(error.hint) < 100


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        (f"cat::{FLOAT_DIGITS} dog", f"::{FLOAT_DIGITS}"),
        (f"cat::1{FLOAT_DIGITS} dog::-{FLOAT_DIGITS}", f"::1{FLOAT_DIGITS}"),  # inf - inf
        (f"https://x.com/a.png::{FLOAT_DIGITS} https://x.com/b.png cat", f"::{FLOAT_DIGITS}"),
        (f"cat --sref https://x.com/a.png::{FLOAT_DIGITS}", f"https://x.com/a.png::{FLOAT_DIGITS}"),
    ],
)
def test_limits_weights_too_large_for_a_float_are_errors(text: str, weight: str) -> None:
    error = error_of(text)
    assert type(error) is InvalidWeightError
    assert covered(text, error) == weight
    assert "too large" in error.msg


def test_limits_weights_that_sum_past_a_float_are_errors() -> None:
    big = "1" + "0" * 308  # 1e308 fits a float; twice it does not
    text = f"cat::{big} dog::{big}"
    error = error_of(text)
    assert type(error) is InvalidWeightError
    assert error.msg == "The weights of the prompt's parts are too large"


def test_limits_messages_quote_at_most_40_characters_of_a_long_word() -> None:
    word = "x" * 5900
    for text in (f"cat --{word}", f"cat --style {word}", f"cat --tile {word}", f"https://{word}"):
        error = error_of(text)
        assert word in covered(text, error)
        assert len(error.msg) + len(error.hint or "") < 300, type(error).__name__
    error = error_of(f"cat --{word}")
    assert type(error) is UnknownParameterError


def test_limits_option_used_many_times_is_an_error_at_the_use_that_crosses() -> None:
    value = "y" * 2900
    text = "cat --big --big --big"
    error = error_of(text, options={"big": value})
    assert type(error) is ExpansionTooLongError
    assert (error.start, error.end) == (16, 21)  # the third --big passes 6,000 characters
    assert f"{DEFAULT_MAX_LENGTH:,}" in error.msg
    assert len(parse("cat --big --big", options={"big": value})[0].text) == 4 + 2900 + 1 + 2900


def test_limits_runaway_macro_is_refused_before_it_is_built() -> None:
    # issue 13: a 5,900-character option used 400 times with 40 permutations took 2.2 GB
    text = "{a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,A,B,C,D,E,F,G,H,I,J,K,L,M,N} "
    text += " ".join(["--opt"] * 400)
    tracemalloc.start()
    try:
        error = error_of(text, options={"opt": "z" * 5900})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert type(error) is ExpansionTooLongError
    assert covered(text, error) == "--opt"
    assert peak < 2_000_000  # bytes: nothing of the 2.36-million-character text was built


def test_limits_permutations_longer_than_the_total_are_an_error_at_the_braces() -> None:
    options = "{" + ",".join(f"o{i:02}" for i in range(40)) + "}"
    fits = options + " " + "w" * (DEFAULT_MAX_TOTAL_LENGTH // 40 - 10)
    assert len(parse(fits)) == 40
    text = options + " " + "w" * (DEFAULT_MAX_TOTAL_LENGTH // 40)
    error = error_of(text)
    assert type(error) is ExpansionTooLongError
    assert covered(text, error) == options
    assert f"{DEFAULT_MAX_TOTAL_LENGTH:,}" in error.msg
    # a caller that allows more prompts gets the same bound on their total length
    many = "{a,b} " * 10 + "w" * 100  # 1,024 prompts of ~110 characters
    error = error_of(many, max_permutations=1024)
    assert type(error) is ExpansionTooLongError


def test_limits_total_counts_nested_options_exactly() -> None:
    # 6 prompts: "A x", "A yy", "A zzz", "B x", "B yy", "B zzz": 24 characters together
    text = "{A, B} {x, {yy, zzz}}"
    prompts = parse(text)
    total = sum(len(p.parts[0].text) for p in prompts)
    assert total == 2 * (3 + 4 + 5)
    assert len(parse(text, max_total_length=total)) == 6
    with pytest.raises(ExpansionTooLongError):
        parse(text, max_total_length=total - 1)


def test_limits_suffix_counts_toward_the_total_of_every_permutation() -> None:
    suffix = "--no a " * 120  # 840 characters added to each of the 40 prompts
    text = "{" + ",".join(f"o{i:02}" for i in range(40)) + "} cat"
    assert len(parse(text, suffix="--no a")) == 40
    error = error_of(text, suffix=suffix)
    assert type(error) is ExpansionTooLongError
    assert error.origin == "prompt"
    assert "with your suffix" in error.msg
    with pytest.raises(PromptError) as caught:
        parse("cat", suffix="--no a " * 900)  # 6,300 characters: longer than any prompt
    assert caught.value.origin == "suffix"


ZEROS = "0" * 5000  # int() counts leading zeros toward its 4,300-digit limit too


@pytest.mark.parametrize(
    ("text", "given"),
    [
        (f"cat --seed {ZEROS}5", {"seed": 5}),
        (f"cat --s -{ZEROS}", None),  # -0 is 0: within 0–1000
        (f"cat --ar {ZEROS}7:4", {"aspect": (7, 4)}),
        (f"cat --sref {ZEROS}12", {"sref": "12"}),
    ],
)
def test_limits_leading_zeros_are_read_without_int_limits(
    text: str, given: dict[str, object] | None
) -> None:
    # found by bench/fuzz_parser.py: `--s 000…0009` (5,900 zeros) was a ValueError
    [prompt] = parse(text)
    params = prompt.params.given()
    if given is None:
        assert params["stylize"] == 0
    elif "sref" in given:
        assert params["sref"][0].ref == given["sref"]
    else:
        assert params == given


def test_limits_leading_zeros_then_too_many_digits_are_out_of_range() -> None:
    for text in (f"cat --seed {ZEROS}{'9' * 30}", f"cat --ar {ZEROS}{'9' * 30}:1"):
        error = error_of(text)
        assert type(error) is OutOfRangeError
        assert len(error.msg) < 120
