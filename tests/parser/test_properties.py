"""Properties: any text gives prompts or a PromptError, and the canonical echo parses back."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parser import PromptError, parse

# Pieces that exercise every corner of the grammar, glued together in random order.
TOKENS = [
    " ",
    "  ",
    "\t",
    "\n",
    ",",
    " , ",
    "a",
    "cat",
    "Ünïcødé",
    "熊猫",
    "🐱",
    "\u200b",
    "\\",
    "::",
    ":",
    "::2",
    "::-.5",
    "::0",
    ":::",
    "{",
    "}",
    "{a, b}",
    "\\,",
    "\\{",
    "\\}",
    "<",
    ">",
    "https://x.com/a.png",
    "<https://x.com/b.png>",
    "http://[::1]/c.png",
    "https://",
    "http:/",
    "--",
    "—",
    "--ar",
    "--ar 16:9",
    "--ar16:9",
    "--AR",
    " 1.5:1",
    "--no",
    " dogs, cats",
    "--c",
    " 50",
    "--chaos 150",
    "--seed",
    " 4294967295",
    "--q",
    " .25",
    "--s 750",
    "--tile",
    "--niji",
    " 6",
    "--v",
    " 5.2",
    "--sref",
    " random::2",
    " 123",
    "--sw 10",
    "--cref",
    "--cw 0",
    "--iw",
    " 2",
    "--stop 50",
    "--style raw",
    "--fast",
    "--relax",
    "--repeat 3",
    "--weird 5",
    "--zoom 2",
    "--xyz",
    "-",
    "0",
    "9",
    ".",
    "--sref https://x.com/s.png::3",
]

prompts_from_tokens = st.lists(st.sampled_from(TOKENS), max_size=25).map("".join)
any_text = st.text(max_size=200)

# Hostile shapes (issue 13): each was a RecursionError, OverflowError, ValueError or seconds.
digits = st.integers(300, 5000).map(lambda n: "9" * n)
deep_braces = st.integers(1, 2999).flatmap(
    lambda depth: st.sampled_from(
        ["{" * depth + "x" + "}" * depth, "{a, " * depth + "b" + "}" * depth, "{" * depth]
    )
)
colon_storms = st.tuples(
    st.sampled_from(["::", ":::", "a::", "a::2 ", "::-1", ":: ", "::.", "::9" * 40]),
    st.integers(1, 2000),
).map(lambda unit_count: (unit_count[0] * unit_count[1])[:6000])
huge_numbers = st.tuples(
    st.sampled_from(
        [
            "cat --seed {}",
            "cat --c {}",
            "cat --iw {}",
            "cat --q {}",
            "cat --ar {}:1",
            "cat --ar 1.{}:1",
            "cat::{} dog::-{}",
            "https://x.com/a.png::{} https://x.com/b.png cat",
            "cat --sref {} 1::{}",
            "cat --zoom {}",
        ]
    ),
    digits,
).map(lambda template_number: template_number[0].replace("{}", template_number[1])[:6000])
long_prompts = st.lists(st.sampled_from(TOKENS), min_size=200, max_size=1500).map(
    lambda pieces: "".join(pieces)[:6000]
)
hostile = st.one_of(deep_braces, colon_storms, huge_numbers, long_prompts)


def _parse_or_none(text: str) -> list[object] | None:
    try:
        return list(parse(text))
    except PromptError as error:
        assert error.source == text
        assert 0 <= error.start <= error.end <= len(text)
        error.render()
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(any_text, prompts_from_tokens))
def test_parse_arbitrary_text_raises_only_prompt_error(text: str) -> None:
    _parse_or_none(text)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hostile)
@example("{" * 2999 + "x" + "}" * 2999)  # RecursionError
@example("cat --seed 1" + "0" * 400)  # OverflowError: int too large to convert to float
@example("cat --seed " + "7" * 5000)  # ValueError: exceeds the limit (4300 digits)
@example("cat --s " + "0" * 5900 + "9")  # the same, through leading zeros
@example("cat --ar 1." + "5" * 400 + ":1")  # OverflowError in the hint
@example("cat::1" + "0" * 400 + " dog::-1" + "0" * 400)  # inf − inf: a NaN weight accepted
def test_parse_hostile_text_raises_only_prompt_error(text: str) -> None:
    _parse_or_none(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["y" * 5900, "{a,b,c,d} " * 10, "--ar {1:1, 2:3} x", "z::2 "]),
    st.integers(1, 400),
    st.sampled_from(["--big", "{--big, q}", "x --big"]),
)
def test_parse_with_long_macros_raises_only_prompt_error(value: str, uses: int, word: str) -> None:
    text = "cat " + " ".join([word] * uses)
    try:
        prompts = parse(text[:6000], options={"big": value})
    except PromptError as error:
        assert error.source == text[:6000]
        assert 0 <= error.start <= error.end <= len(error.source)
        return
    assert sum(len(p.canonical) for p in prompts) < 60_000


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(prompts_from_tokens, any_text))
@example("a {b, c} --ar 1:1")
@example("x\\\\, y")
@example("https://x.com/a.png ,, cat")
@example("a::--x")
@example("a\\{b --no \\{c\\}")
def test_parse_canonical_round_trips(text: str) -> None:
    prompts = _parse_or_none(text)
    for prompt in prompts or []:
        assert parse(prompt.canonical) == [prompt]  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", "b", "{x, y}", " ", "--ar 1:1", "--mine", "--tile"]), max_size=10
    ).map("".join),
    st.sampled_from(["--ar 2:3", "neon --s 50", "--q 9", "{p, q}"]),
)
def test_parse_with_macros_raises_only_prompt_error(text: str, value: str) -> None:
    try:
        prompts = parse(text, options={"mine": value}, suffix="--chaos 5")
    except PromptError as error:
        assert error.source in (text, "--chaos 5")
        assert 0 <= error.start <= error.end <= len(error.source)
        return
    for prompt in prompts:
        assert parse(prompt.canonical) == [prompt]
