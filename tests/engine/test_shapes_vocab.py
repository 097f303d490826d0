"""The shapes tokenizer: CLIP format, one token per caption word."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from engine.shapes.vocab import MAX_LENGTH, WORDS, write_tokenizer
from engine.shapes.world import full_caption, scenes


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> object:
    from transformers import CLIPTokenizer

    folder = write_tokenizer(tmp_path_factory.mktemp("tokenizer"))
    assert {p.name for p in Path(folder).iterdir()} >= {"vocab.json", "merges.txt"}
    return CLIPTokenizer.from_pretrained(folder, local_files_only=True)


def test_every_word_is_one_token(tokenizer: object) -> None:
    ids = [tokenizer(word, add_special_tokens=False).input_ids for word in WORDS]  # type: ignore[operator]
    assert all(len(i) == 1 for i in ids)
    assert len({i[0] for i in ids}) == len(WORDS)


def test_captions_are_one_token_per_word_and_fit(tokenizer: object) -> None:
    longest = 0
    for scene in itertools.islice(scenes(0, "train"), 300):
        text = full_caption(scene)
        ids = tokenizer(text).input_ids  # type: ignore[operator]
        words = text.replace(",", " ,").split()
        assert len(ids) == len(words) + 2  # plus start and end
        longest = max(longest, len(ids))
    assert longest <= MAX_LENGTH
    assert tokenizer.model_max_length == MAX_LENGTH  # type: ignore[attr-defined]


def test_other_text_tokenizes_by_characters_without_unknowns(tokenizer: object) -> None:
    ids = tokenizer("a Dog, in the CENTER!", add_special_tokens=False).input_ids  # type: ignore[operator]
    tokens = tokenizer.convert_ids_to_tokens(ids)  # type: ignore[attr-defined]
    assert "<|endoftext|>" not in tokens
    assert tokens[:1] == ["a</w>"]
    assert "".join(tokens).replace("</w>", "") == "adog,inthecenter!"


def test_the_files_are_the_same_on_every_run_and_kept_on_resume(tmp_path: Path) -> None:
    first = write_tokenizer(tmp_path / "one")
    second = write_tokenizer(tmp_path / "two")
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    # A resumed run keeps the ids it was trained with, whatever the learner would write now.
    (first / "merges.txt").write_text("#version: 0.2\na n</w>\n", encoding="utf-8")
    write_tokenizer(first)
    assert (first / "merges.txt").read_text(encoding="utf-8") == "#version: 0.2\na n</w>\n"


def test_ties_go_to_the_alphabetically_first_pair() -> None:
    from engine.shapes.vocab import learn_merges

    # "an" and "at" share "a" once each: the tie between (a, n</w>) and (a, t</w>) goes to n.
    assert learn_merges(("an", "at")) == [("a", "n</w>"), ("a", "t</w>")]
    assert learn_merges(("and", "an")) == [("a", "n"), ("a", "n</w>"), ("an", "d</w>")]
