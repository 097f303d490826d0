"""A corpus of real-world prompts: every one parses, round-trips and keeps its parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from parser import parse

CORPUS_FILE = Path(__file__).parent / "data" / "corpus.txt"


def load_corpus() -> list[str]:
    lines = CORPUS_FILE.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


CORPUS = load_corpus()


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 100
    joined = "".join(CORPUS)
    for sample in ("熊猫", "桜", "한복", "кот", "قطة", "हाथी", "🐱", "—", "::", "{", "--sref"):
        assert sample in joined


@pytest.mark.parametrize("text", CORPUS, ids=[f"{i:03}" for i in range(len(CORPUS))])
def test_corpus_prompt_parses_and_round_trips(text: str) -> None:
    prompts = parse(text)
    assert prompts
    for prompt in prompts:
        assert parse(prompt.canonical) == [prompt]
        assert prompt.parts or len(prompt.images) >= 2
        for part in prompt.parts:
            assert "--" not in part.text.split() or "--" in text  # no swallowed parameter
        if " --" in text or " —" in text:
            names = [w for w in prompt.canonical.split() if w.startswith("--") and len(w) > 2]
            assert prompt.params.given() or not names
