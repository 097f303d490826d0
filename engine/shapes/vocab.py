"""The ``builtin:shapes`` tokenizer: a CLIP tokenizer (vocab.json + merges.txt) where every
word of the world's captions is one token.

The merges are learned by Hugging Face ``tokenizers``' BPE trainer on the caption words until
no pair is left, so each word ends as a single ``word</w>`` token; the 256 byte symbols stay in
the vocabulary, so any other text still tokenizes (character by character), never to
``<unk>``. ``model_max_length`` is 32: the longest caption is 20 tokens with start and end.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.shapes.world import COLOURS, PHRASES, SHAPES
from engine.tiny import byte_symbols

__all__ = ["MAX_LENGTH", "SPECIAL_TOKENS", "WORDS", "write_tokenizer"]

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


def write_tokenizer(folder: Path) -> Path:
    """Write ``vocab.json``, ``merges.txt`` and ``tokenizer_config.json`` into ``folder``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    alphabet = byte_symbols()
    trainer = trainers.BpeTrainer(
        vocab_size=100_000,  # never reached: training stops when every word is one token
        min_frequency=1,
        initial_alphabet=alphabet,
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    tokenizer.train_from_iterator([" ".join(WORDS)], trainer=trainer)
    learned = json.loads(tokenizer.to_str())["model"]
    # CLIP's layout: byte symbols, the same with </w>, merges in rank order, specials last.
    vocab: dict[str, int] = {}
    for symbol in [*alphabet, *(s + "</w>" for s in alphabet)]:
        vocab.setdefault(symbol, len(vocab))
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in learned["merges"]]
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
