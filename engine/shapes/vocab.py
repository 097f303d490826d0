"""The ``builtin:shapes`` tokenizer: a CLIP tokenizer (vocab.json + merges.txt) where every
word of the world's captions is one token.

The merges are learned by byte-pair encoding on the caption words until no pair is left, so
each word ends as a single ``word</w>`` token; the 256 byte symbols stay in the vocabulary, so
any other text still tokenizes (character by character), never to ``<unk>``.
``model_max_length`` is 32: the longest caption is 20 tokens with start and end.

The learner is a few lines here rather than ``tokenizers``' ``BpeTrainer``, whose ties between
equally frequent pairs fall in hash order: two runs gave "an" and "at" each other's ids, and a
trainer that rewrote its tokenizer on resume taught the model both. Here ties go to the
alphabetically first pair, so the files are the same on every machine and every run, and
:func:`write_tokenizer` leaves an existing tokenizer as it is.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from engine.shapes.world import COLOURS, PHRASES, SHAPES
from engine.tiny import byte_symbols

__all__ = ["MAX_LENGTH", "SPECIAL_TOKENS", "WORDS", "learn_merges", "write_tokenizer"]

MAX_LENGTH = 32
SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")
WORDS: tuple[str, ...] = tuple(
    sorted(
        {"a", "an", "and", "shape", "gradient", "background", ","}
        | set(COLOURS)
        | set(SHAPES)
        | {word for phrase in PHRASES.values() for word in phrase.split()}
    )
)


def learn_merges(words: tuple[str, ...]) -> list[tuple[str, str]]:
    """Byte-pair merges, in rank order, that join each of ``words`` into one ``word</w>``.

    Each round merges the most frequent adjacent pair over all words (ties: the smallest pair),
    so applying the merges by rank, as CLIP's tokenizer does, rebuilds every word whole.
    """
    spelled = [[*word[:-1], word[-1] + "</w>"] for word in words]
    merges: list[tuple[str, str]] = []
    while True:
        counts: dict[tuple[str, str], int] = {}
        for symbols in spelled:
            for pair in itertools.pairwise(symbols):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            return merges
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        spelled = [_merge(symbols, best) for symbols in spelled]


def _merge(symbols: list[str], pair: tuple[str, str]) -> list[str]:
    merged: list[str] = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            merged.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            merged.append(symbols[i])
            i += 1
    return merged


def write_tokenizer(folder: Path) -> Path:
    """Write ``vocab.json``, ``merges.txt`` and ``tokenizer_config.json`` into ``folder``.

    A folder that already holds a tokenizer is left alone: token ids are part of a trained
    model, so a resumed run must read the ids it started with.
    """
    names = ("vocab.json", "merges.txt", "tokenizer_config.json")
    if all((folder / name).is_file() for name in names):
        return folder
    alphabet = byte_symbols()
    # CLIP's layout: byte symbols, the same with </w>, merges in rank order, specials last.
    vocab: dict[str, int] = {}
    for symbol in [*alphabet, *(s + "</w>" for s in alphabet)]:
        vocab.setdefault(symbol, len(vocab))
    merges = learn_merges(WORDS)
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    for token in SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{left} {right}" for left, right in merges)]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": MAX_LENGTH,
        "bos_token": SPECIAL_TOKENS[0],
        "eos_token": SPECIAL_TOKENS[1],
        "pad_token": SPECIAL_TOKENS[1],
        "unk_token": SPECIAL_TOKENS[1],
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder
