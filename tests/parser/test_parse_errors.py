"""Invalid prompts → the right error class, span (as the text it covers) and parameter."""

from __future__ import annotations

import pytest

from parser import (
    ConflictingParametersError,
    DuplicateParameterError,
    EmptyPromptError,
    GluedValueError,
    ImageOnlyPromptError,
    InvalidURLError,
    InvalidValueError,
    InvalidWeightError,
    MissingValueError,
    OutOfRangeError,
    PermutationError,
    PromptError,
    PromptTooLongError,
    RequiresParameterError,
    TooManyPermutationsError,
    UnexpectedValueError,
    UnknownParameterError,
    UnsupportedParameterError,
    parse,
)

# (prompt, error class, the text the span covers, parameter)
CASES: list[tuple[str, type[PromptError], str, str | None]] = [
    # empty and image-only prompts
    ("", EmptyPromptError, "", None),
    ("   ", EmptyPromptError, "   ", None),
    ("--ar 16:9", EmptyPromptError, "", None),
    ("https://x.com/a.png", ImageOnlyPromptError, "https://x.com/a.png", None),
    ("https://x.com/a.png --ar 1:1", ImageOnlyPromptError, "https://x.com/a.png ", None),
    ("https://x.com/a.png https://x.com/b.png --s 100", ImageOnlyPromptError, "--s 100", "stylize"),
    (
        "https://x.com/a.png https://x.com/b.png --weird 5",
        ImageOnlyPromptError,
        "--weird 5",
        "weird",
    ),
    (
        "https://x.com/a.png https://x.com/b.png --sref 12",
        ImageOnlyPromptError,
        "--sref 12",
        "sref",
    ),
    # URLs
    ("https:// a cat", InvalidURLError, "https://", None),
    ("<https://x.com/a.png a cat", InvalidURLError, "<https://x.com/a.png", None),
    ("https://x.com:99999/a.png cat", InvalidURLError, "https://x.com:99999/a.png", None),
    ("https://x.com/a.png:: cat", InvalidWeightError, "https://x.com/a.png::", None),
    ("cat --cref notaurl", InvalidURLError, "notaurl", "cref"),
    ("cat --sref https:///x", InvalidURLError, "https:///x", "sref"),
    # weights
    ("cat::-1", InvalidWeightError, "cat::-1", None),
    ("a::-2 b", InvalidWeightError, "a::-2 b", None),
    ("a::-1 b::0", InvalidWeightError, "a::-1 b::0", None),
    (":: cat", InvalidWeightError, "::", None),
    ("cat:: ::2 dog", InvalidWeightError, "::2", None),
    ("cat --cref https://x.com/a.png::2", InvalidWeightError, "https://x.com/a.png::2", "cref"),
    ("cat --sref https://x.com/a.png::-1", InvalidWeightError, "https://x.com/a.png::-1", "sref"),
    ("cat --sref 5::0", InvalidWeightError, "5::0", "sref"),
    # unknown, glued, unsupported parameters
    ("cat --xyz 5", UnknownParameterError, "--xyz", None),
    ("cat --stlyize 100", UnknownParameterError, "--stlyize", None),
    ("cat --ar16:9", GluedValueError, "--ar16:9", "aspect"),
    ("cat --v5", GluedValueError, "--v5", "version"),
    ("cat --s750", GluedValueError, "--s750", "stylize"),
    ("cat --seed123", GluedValueError, "--seed123", "seed"),
    ("cat —c10", GluedValueError, "—c10", "chaos"),
    ("cat --video", UnsupportedParameterError, "--video", "video"),
    ("cat --hd", UnsupportedParameterError, "--hd", "hd"),
    ("cat --h 100", UnsupportedParameterError, "--h", "h"),
    ("cat --tile.", UnknownParameterError, "--tile.", None),
    # values: form, range, flags, missing values; never clamped
    ("cat --chaos 150", OutOfRangeError, "150", "chaos"),
    ("cat --chaos -1", OutOfRangeError, "-1", "chaos"),
    ("cat --c 5.5", InvalidValueError, "5.5", "chaos"),
    ("cat --chaos lots", InvalidValueError, "lots", "chaos"),
    ("cat --stylize 1001", OutOfRangeError, "1001", "stylize"),
    ("cat --weird 3001", OutOfRangeError, "3001", "weird"),
    ("cat --stop 9", OutOfRangeError, "9", "stop"),
    ("cat --stop 101", OutOfRangeError, "101", "stop"),
    ("cat --seed 4294967296", OutOfRangeError, "4294967296", "seed"),
    ("cat --seed -1", OutOfRangeError, "-1", "seed"),
    ("cat --q 3", OutOfRangeError, "3", "quality"),
    ("cat --q .75", OutOfRangeError, ".75", "quality"),
    ("cat --iw 3.5", OutOfRangeError, "3.5", "iw"),
    ("cat --iw -0.1", OutOfRangeError, "-0.1", "iw"),
    ("cat --sref 1 --sw 1001", OutOfRangeError, "1001", "sw"),
    ("cat --cref https://x.com/a.png --cw 101", OutOfRangeError, "101", "cw"),
    ("cat --r 0", OutOfRangeError, "0", "repeat"),
    ("cat --repeat 41", OutOfRangeError, "41", "repeat"),
    ("cat --ar 1.39:1", InvalidValueError, "1.39:1", "aspect"),
    ("cat --ar 16x9", InvalidValueError, "16x9", "aspect"),
    ("cat --ar 0:1", OutOfRangeError, "0:1", "aspect"),
    ("cat --ar 16:9.", InvalidValueError, "16:9.", "aspect"),
    ("cat --ar 16:9 in a hat", InvalidValueError, "in a hat", "aspect"),
    ("cat --ar", MissingValueError, "--ar", "aspect"),
    ("cat --seed --ar 1:1", MissingValueError, "--seed", "seed"),
    ("cat --no", MissingValueError, "--no", "no"),
    ("cat --no , ,", MissingValueError, ", ,", "no"),
    ("cat --tile seamless", UnexpectedValueError, "seamless", "tile"),
    ("cat --fast please", UnexpectedValueError, "please", "mode"),
    ("cat --v 4", OutOfRangeError, "4", "version"),
    ("cat --v 6.2", OutOfRangeError, "6.2", "version"),
    ("cat --niji 3", OutOfRangeError, "3", "niji"),
    ("cat --style raw cinematic", InvalidValueError, "cinematic", "style"),
    ("cat --style r@w", InvalidValueError, "r@w", "style"),
    ("cat --style banana", OutOfRangeError, "banana", "style"),
    ("cat --style 4a", OutOfRangeError, "4a", "style"),
    ("cat --style cute", RequiresParameterError, "--style cute", "style"),
    ("cat --v 6 --style scenic", RequiresParameterError, "--style scenic", "style"),
    ("cat --ar 1:5", OutOfRangeError, "1:5", "aspect"),
    ("cat --ar 5:1", OutOfRangeError, "5:1", "aspect"),
    ("cat --ar 401:100", OutOfRangeError, "401:100", "aspect"),
    ("cat --ar 100001:100000", OutOfRangeError, "100001:100000", "aspect"),
    ("cat --sref pretty", InvalidValueError, "pretty", "sref"),
    ("cat --sref 4294967296", InvalidValueError, "4294967296", "sref"),
    ("cat --sref ²", InvalidValueError, "²", "sref"),
    ("cat --sref", MissingValueError, "--sref", "sref"),
    ("cat --zoom 2", InvalidValueError, "--zoom 2", "zoom"),
    # repeats and conflicts
    ("cat --seed 1 --seed 2", DuplicateParameterError, "--seed 2", "seed"),
    ("cat --ar 1:1 --aspect 2:3", DuplicateParameterError, "--aspect 2:3", "aspect"),
    ("cat --tile --tile", DuplicateParameterError, "--tile", "tile"),
    ("cat --niji 6 --v 6", ConflictingParametersError, "--v 6", "version"),
    ("cat --v 6 --niji", ConflictingParametersError, "--niji", "niji"),
    ("cat --fast --relax", ConflictingParametersError, "--relax", "mode"),
    ("cat --fast --fast", DuplicateParameterError, "--fast", "mode"),
    # parameters that need another
    ("cat --sw 100", RequiresParameterError, "--sw 100", "sw"),
    ("cat --cw 50", RequiresParameterError, "--cw 50", "cw"),
    # permutations
    ("a {b, c", PermutationError, "{", None),
    ("a b} c", PermutationError, "}", None),
    ("a {b, {c, d} e", PermutationError, "{", None),
    ("a {} b", PermutationError, "{}", None),
    ("a {x, y} --ar {1:1, 2:3.5}", InvalidValueError, "2:3.5", "aspect"),
    # length
    ("a" * 6001, PromptTooLongError, "a", None),
]


@pytest.mark.parametrize(
    ("text", "kind", "covered", "parameter"), CASES, ids=[c[0][:40] for c in CASES]
)
def test_parse_invalid_prompt_error(
    text: str, kind: type[PromptError], covered: str, parameter: str | None
) -> None:
    with pytest.raises(PromptError) as caught:
        parse(text)
    error = caught.value
    assert type(error) is kind, f"{type(error).__name__}: {error.msg}"
    assert error.source == text
    assert text[error.start : error.end] == covered
    assert error.parameter == parameter
    assert error.msg


def test_parse_unknown_style_suggests_known_ones() -> None:
    with pytest.raises(OutOfRangeError) as caught:
        parse("a cat --style rwa")
    assert caught.value.suggestions == ("raw",)
    assert caught.value.msg == (
        "--style takes raw, or with --niji cute, expressive, original or scenic; not “rwa”"
    )
    with pytest.raises(OutOfRangeError) as caught:
        parse("a cat --style banana")
    assert caught.value.suggestions == ("raw", "cute", "expressive", "original", "scenic")


def test_parse_niji_style_without_niji_says_what_to_add() -> None:
    with pytest.raises(RequiresParameterError) as caught:
        parse("a cat --style cute")
    assert caught.value.msg == "--style cute is a niji style: it only works together with --niji"
    assert caught.value.hint == "Add --niji, or use --style raw."


def test_parse_aspect_beyond_the_shared_limit_names_the_range() -> None:
    with pytest.raises(OutOfRangeError) as caught:
        parse("a cat --ar 1:5")
    assert caught.value.msg == "--ar must be between 1:4 and 4:1, not 1:5"


def test_parse_unknown_parameter_suggests_close_names() -> None:
    with pytest.raises(UnknownParameterError) as caught:
        parse("a cat --stlyize 100")
    assert caught.value.suggestions[0] == "--stylize"
    assert "--stylize" in (caught.value.hint or "")


def test_parse_glued_value_hint_shows_spaced_form() -> None:
    with pytest.raises(GluedValueError) as caught:
        parse("a cat --ar16:9")
    assert caught.value.hint == "Write --ar 16:9"
    assert caught.value.suggestions == ("--ar 16:9",)


def test_parse_decimal_aspect_hint_gives_whole_ratio() -> None:
    with pytest.raises(InvalidValueError) as caught:
        parse("a cat --ar 1.39:1")
    assert "139:100" in (caught.value.hint or "")


def test_parse_out_of_range_message_names_parameter_and_range() -> None:
    with pytest.raises(OutOfRangeError) as caught:
        parse("a cat --c 150")
    assert caught.value.msg == "--c must be between 0 and 100, not 150"


def test_parse_text_after_parameter_hint_says_move_it() -> None:
    with pytest.raises(UnexpectedValueError) as caught:
        parse("a cat --tile seamless wallpaper")
    assert "seamless wallpaper" in (caught.value.hint or "")


def test_parse_too_many_permutations_is_an_error_at_the_braces() -> None:
    text = "{a,b,c} {d,e,f} {g,h,i} {j,k}"  # 54 prompts
    with pytest.raises(TooManyPermutationsError) as caught:
        parse(text)
    assert text[caught.value.start : caught.value.end] == text
    assert len(parse(text, max_permutations=54)) == 54
    with pytest.raises(TooManyPermutationsError):
        parse("{a,b} {c,d}", max_permutations=3)


def test_parse_huge_permutation_fails_fast() -> None:
    with pytest.raises(TooManyPermutationsError):
        parse(" ".join(["{a,b}"] * 200))


def test_prompt_error_survives_pickling() -> None:
    import pickle

    with pytest.raises(PromptError) as caught:
        parse("cat --chaos 150")
    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own object
    assert type(copy) is OutOfRangeError
    assert (copy.msg, copy.start, copy.end, copy.parameter) == (
        caught.value.msg,
        caught.value.start,
        caught.value.end,
        "chaos",
    )
