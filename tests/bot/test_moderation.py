"""Banned words survive case, accents, punctuation and spacing tricks, without false hits."""

from __future__ import annotations

import pytest

from bot.moderation import BannedWords

BANNED = BannedWords.from_lines(["Bad Word", "gore", "# a comment", "nsfw", ""])


@pytest.mark.parametrize(
    "text",
    [
        "a BAD   word here",
        "bád-wörd",
        "b a d w o r d",
        "GORE",
        "nsfw!",
        "n s f w",
        "Ｎｓｆｗ",
        "so-called bad_word.",
        "badword",
        "Gor e",
    ],
)
def test_banned_words_found(text: str) -> None:
    assert BANNED.find(text) is not None


@pytest.mark.parametrize(
    "text", ["gorilla", "unsfwx", "a nice cat", "go red", "bad words", "forego recess"]
)
def test_banned_words_no_false_positive(text: str) -> None:
    assert BANNED.find(text) is None


def test_banned_words_comments_and_blank_lines_are_ignored() -> None:
    assert BANNED.phrases == ("bad word", "gore", "nsfw")
