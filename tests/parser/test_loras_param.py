"""``--lora``: names with weights, repeated up to four; each problem named."""

from __future__ import annotations

import pytest

from parser import PromptError, parse
from parser.prompt import LoraRef


def test_loras_parse_with_their_weights_and_repeat() -> None:
    [prompt] = parse("a cat --lora water_color::0.7 --lora ink")
    assert prompt.params.lora == (LoraRef("water_color", 0.7), LoraRef("ink", None))
    assert prompt.canonical == "a cat --lora water_color::0.7 --lora ink"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a --lora", "--lora needs a LoRA name"),
        ("a --lora x::3", "--lora weights go from 0 to 2, not 3"),
        ("a --lora a b --lora c d e", "--lora: at most 4 LoRAs per prompt"),
        ("a --lora bad/name", "--lora takes LoRA names"),
    ],
)
def test_bad_loras_are_refused_by_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(PromptError, match=message):
        parse(text)
