"""``/describe``: an image → prompts made of a caption, CLIP-ranked style terms and ``--ar``.

Captions come from a BLIP (``BlipForConditionalGeneration``) or Florence-2
(``Florence2ForConditionalGeneration``, the transformers-native "-hf" checkpoints) model. The
style terms are ranked as in CLIP-Interrogator's "classic" mode: the cosine similarity of the
image's CLIP embedding to each term of the :mod:`engine.labels` banks, best term per bank.
``builtin:tiny`` builds small random-weight models (their captions are word salad) that are
saved under the cache folder and loaded back like any local model, so everything runs offline.

Sampling (any seed but 0) seeds torch's global RNG inside ``fork_rng``, because ``generate``
takes no generator; the engine's pipelines draw from their own generators, so they neither
disturb nor see it. Call :meth:`Describer.describe` from one thread at a time (the async
variant queues on the describer's own thread).

The Florence-2 branch is tested with a tiny random-weight checkpoint built like transformers'
own test config (see ``tests/engine/test_describe.py``); real checkpoints are not exercised
offline.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import TYPE_CHECKING

from engine.describe_models import (
    BUILTIN_TINY,
    Captioner,
    ClipRanker,
    DescribeConfig,
    build_tiny_blip,
    build_tiny_clip,
    load_captioner,
    load_ranker,
)
from engine.errors import InvalidRequestError
from engine.labels import LABEL_BANKS, LabelBank

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "BUILTIN_TINY",
    "FALLBACK_CAPTION",
    "TINY_CAPTIONER",
    "DescribeConfig",
    "Describer",
    "aspect_parameter",
    "build_tiny_blip",
    "build_tiny_clip",
    "clean_caption",
    "compose_prompts",
    "pick_terms",
    "prepare_image",
    "rank_banks",
]

log = logging.getLogger(__name__)

TINY_CAPTIONER = BUILTIN_TINY
TINY_CLIP = BUILTIN_TINY
MAX_COUNT = 10
MAX_CAPTION_WORDS = 40
MAX_ASPECT = 4
MAX_ASPECT_TERM = 21
MAX_SIDE = 1024
"""Images are shrunk to this side first: both processors resize far below it anyway."""
EXTRA_ROUNDS = 3
"""Sampling rounds tried when decoding gave fewer distinct captions than asked for."""
TERM_DEPTH = 3
FALLBACK_CAPTION = "an image"


class Describer:
    """Captioner and CLIP ranker for ``/describe``, with one background thread of its own."""

    def __init__(self, config: DescribeConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        # One worker: model calls are serialised, and the event loop never waits on them.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="describe")
        self._captioner: Captioner | None = None
        self._ranker: ClipRanker | None = None

    @property
    def loaded(self) -> bool:
        return self._captioner is not None and self._ranker is not None

    def load(self) -> None:
        """Load both models (blocking; a no-op once loaded). Raises :class:`ModelLoadError`."""
        self._models()

    def _models(self) -> tuple[Captioner, ClipRanker]:
        with self._lock:
            if self._captioner is None:
                self._captioner = load_captioner(self.config)
            if self._ranker is None:
                ranker = load_ranker(self.config)
                ranker.label_features()
                self._ranker = ranker
            return self._captioner, self._ranker

    def describe(self, image: Image, *, seed: int = 0, count: int = 4) -> list[str]:
        """``count`` distinct prompts for ``image`` (blocking). Seed 0 decodes by beam search;
        other seeds sample, the same seed giving the same prompts."""
        # 1. Check the request.
        if not 1 <= count <= MAX_COUNT:
            raise InvalidRequestError(f"count must be between 1 and {MAX_COUNT}, not {count}")
        if seed < 0:
            raise InvalidRequestError(f"seed must not be negative, not {seed}")
        aspect = aspect_parameter(image.width, image.height)
        # 2. Load the models on first use.
        captioner, ranker = self._models()
        # 3. Caption an RGB copy.
        picture = prepare_image(image)
        captions = _distinct_captions(captioner, picture, seed=seed, count=count)
        # 4. Rank each bank's terms against the image, then mix them into the prompts.
        ranked = rank_banks(ranker.scores(picture))
        return compose_prompts(captions, ranked, aspect, count)

    async def describe_async(self, image: Image, *, seed: int = 0, count: int = 4) -> list[str]:
        """:meth:`describe` on the describer's own thread."""
        loop = asyncio.get_running_loop()
        call = functools.partial(self.describe, image, seed=seed, count=count)
        return await loop.run_in_executor(self._executor, call)

    async def close(self) -> None:
        """Stop the thread after the call it is running (queued calls are cancelled), and drop
        the models."""
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        self._captioner = self._ranker = None


def aspect_parameter(width: int, height: int) -> str:
    """``--ar W:H`` for a ``width`` × ``height`` image: the ratio reduced by the gcd, or, when
    that leaves a term above 21 (1000×667), the closest ratio with small terms (3:2). Ratios
    beyond 4:1 or 1:4 are clamped to 4:1 / 1:4, the widest the models render well."""
    if width < 1 or height < 1:
        raise InvalidRequestError(f"an image of {width}×{height} pixels has no aspect ratio")
    long, short = max(width, height), min(width, height)
    if long > MAX_ASPECT * short:
        ratio = Fraction(MAX_ASPECT)
    else:
        ratio = Fraction(long, short)
        limit = MAX_ASPECT_TERM * short // long
        while ratio.numerator > MAX_ASPECT_TERM:  # ratio ≥ 1, so the denominator is smaller
            ratio = Fraction(long, short).limit_denominator(limit)
            limit -= 1
    a, b = ratio.numerator, ratio.denominator
    return f"--ar {a}:{b}" if width >= height else f"--ar {b}:{a}"


_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


def prepare_image(image: Image) -> Image:
    """An RGB copy of ``image`` at most :data:`MAX_SIDE` a side, transparency on white."""
    from PIL import Image as PILImage

    try:
        if image.mode in _ALPHA_MODES or "transparency" in image.info:
            rgba = image.convert("RGBA")
            white = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
            picture = PILImage.alpha_composite(white, rgba).convert("RGB")
        else:
            picture = image.convert("RGB")
    except ValueError as error:
        raise InvalidRequestError(f"cannot read a {image.mode} image: {error}") from error
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    return picture


_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# Characters the prompt grammar reads as syntax: parameters, weights, permutations, escapes.
_SYNTAX = re.compile(r"-{2,}|[—{}\\<>|\[\]]")
_COLONS = re.compile(r":{2,}")
# BLIP's "arafed", "araffe"…: a tokenizer artifact for an unnamed subject.
_ARTIFACT = re.compile(r"\barr?af+\w*\s*", re.IGNORECASE)
_BOILERPLATE = re.compile(
    r"^(?:there (?:is|are)|(?:the|this) (?:image|picture|photo) (?:shows|depicts|features|is))"
    r"(?: of)?\s+",
    re.IGNORECASE,
)
_REPEAT = re.compile(r"\b(\w+)(?:\s+\1\b)+", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\s*[.;!?]+\s+(\w+)")
# Sentence openers lowercased once sentences are joined; other words may be names.
_OPENERS = frozenset(
    {"a", "an", "the", "it", "its", "this", "these", "there", "they", "in", "on", "at", "with"}
)
_FIRST_WORD = re.compile(r"^\w+")
_COMMAS = re.compile(r"\s*,(?:\s*,)*\s*")
_EDGE_PUNCTUATION = " ,.;:!?-'\""


def clean_caption(text: str) -> str:
    """A model's caption as a prompt's text: one line, no prompt syntax, no BLIP artifacts or
    "The image shows", repeated words once, sentences joined by commas, no end punctuation,
    at most :data:`MAX_CAPTION_WORDS` words. Empty when nothing is left."""
    text = "".join(ch for ch in text if ch.isprintable() and ch != "\ufffd")
    text = _URL.sub(" ", text)
    text = _COLONS.sub(":", _SYNTAX.sub(" ", text))
    text = " ".join(text.split())
    text = _BOILERPLATE.sub("", _ARTIFACT.sub("", text))
    text = _REPEAT.sub(r"\1", text)
    text = _shorten(text)
    text = _COMMAS.sub(", ", _SENTENCE_END.sub(_join_sentence, text))
    text = " ".join(text.split()).strip(_EDGE_PUNCTUATION)
    return _FIRST_WORD.sub(_lower_opener, text, count=1)


def _join_sentence(match: re.Match[str]) -> str:
    return ", " + _lower_opener(match[1])


def _lower_opener(match: re.Match[str] | str) -> str:
    word = match if isinstance(match, str) else match[0]
    return word.lower() if word.lower() in _OPENERS else word


def _shorten(text: str) -> str:
    words = text.split()
    if len(words) <= MAX_CAPTION_WORDS:
        return text
    cut = " ".join(words[:MAX_CAPTION_WORDS])
    for mark in (". ", ", "):  # prefer ending where a sentence or clause ends
        end = cut.rfind(mark)
        if end > len(cut) // 2:
            return cut[:end]
    return cut


def rank_banks(
    scores: Sequence[float], banks: Sequence[LabelBank] = LABEL_BANKS
) -> list[list[str]]:
    """Each bank's terms, best first, from one score per term (in bank order)."""
    if len(scores) != sum(len(bank.terms) for bank in banks):
        raise ValueError(f"{len(scores)} scores for the terms of {len(banks)} banks")
    ranked, start = [], 0
    for bank in banks:
        own = scores[start : start + len(bank.terms)]
        order = sorted(range(len(own)), key=lambda k: -own[k])  # stable: ties keep bank order
        ranked.append([bank.terms[k] for k in order])
        start += len(bank.terms)
    return ranked


def pick_terms(ranked: Sequence[Sequence[str]], index: int, shift: int = 0) -> list[str]:
    """One term per bank for candidate ``index``.

    Candidate 0 takes every bank's best term (CLIP-Interrogator's answer). Candidates 1–3
    walk a Latin square over each bank's top three (bank ``j`` takes rank ``(i - 1 + j) % 3``),
    so across them every bank shows three different terms and each keeps some best ones;
    candidates 4–6 do the same over ranks 3–5, and so on. ``shift`` moves every bank further
    down, for a prompt that would repeat an earlier one.
    """
    terms = []
    for j, bank in enumerate(ranked):
        if index == 0:
            rank = 0
        else:
            block, row = divmod(index - 1, TERM_DEPTH)
            rank = (row + j) % TERM_DEPTH + TERM_DEPTH * block
        terms.append(bank[(rank + shift) % len(bank)])
    return terms


def compose_prompts(
    captions: Sequence[str], ranked: Sequence[Sequence[str]], aspect: str, count: int
) -> list[str]:
    """``count`` distinct ``caption, terms… --ar W:H`` prompts; captions are reused in turn
    when there are fewer than ``count``, their terms then differing."""
    if not captions:
        raise ValueError("no caption to build prompts from")
    prompts: list[str] = []
    for index in range(count):
        caption = captions[index % len(captions)]
        for shift in range(max(len(bank) for bank in ranked)):
            prompt = f"{caption}, {', '.join(pick_terms(ranked, index, shift))} {aspect}"
            if prompt not in prompts:
                break
        prompts.append(prompt)
    return prompts


def _distinct_captions(captioner: Captioner, image: Image, *, seed: int, count: int) -> list[str]:
    # Beam search (seed 0) or sampling first; more sampling rounds while captions are missing.
    found: list[str] = []
    for round_ in range(1 + EXTRA_ROUNDS):
        if round_ == 0:
            raw = captioner.captions(image, count=count, seed=seed or None)
        else:
            raw = captioner.captions(image, count=count, seed=_round_seed(seed, round_))
        for text in raw:
            caption = clean_caption(text)
            if caption and caption not in found:
                found.append(caption)
        if len(found) >= count:
            return found[:count]
    if not found:
        log.warning("the captioner gave no usable caption; using %r", FALLBACK_CAPTION)
    return found or [FALLBACK_CAPTION]


def _round_seed(seed: int, round_: int) -> int:
    digest = hashlib.blake2b(f"{seed}/{round_}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1
