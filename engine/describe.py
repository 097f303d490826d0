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
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import InvalidRequestError, ModelLoadError
from engine.labels import LABEL_BANKS, LabelBank
from engine.tiny import write_byte_tokenizer

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

BUILTIN_TINY = "builtin:tiny"
TINY_CAPTIONER = BUILTIN_TINY
TINY_CLIP = BUILTIN_TINY
FLORENCE_TASK = "<DETAILED_CAPTION>"
MAX_NEW_TOKENS = {"blip": 30, "florence2": 64}
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
_TINY_VERSION = "1"  # bump when a tiny architecture below changes, so caches are rebuilt


@dataclass(frozen=True, slots=True)
class DescribeConfig:
    """Where the two models come from. Sources: ``builtin:tiny``, a folder, or a Hub id (read
    from the HF cache when offline)."""

    caption_model: str = TINY_CAPTIONER
    """BLIP- or Florence-2-class captioner (``MJ_CAPTION_MODEL``), told apart by the
    ``model_type`` of its ``config.json``."""
    clip_model: str = TINY_CLIP
    """``CLIPModel`` that ranks the style terms (``MJ_CLIP_MODEL``), e.g.
    ``openai/clip-vit-large-patch14``."""
    device: str = "cpu"
    """Already resolved by the caller: ``cuda``, ``cpu`` or ``mps``."""
    cache_dir: Path = Path("data/models")
    """Where the built-in tiny models are saved."""


class Describer:
    """Captioner and CLIP ranker for ``/describe``, with one background thread of its own."""

    def __init__(self, config: DescribeConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        # One worker: model calls are serialised, and the event loop never waits on them.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="describe")
        self._captioner: _Captioner | None = None
        self._ranker: _ClipRanker | None = None

    @property
    def loaded(self) -> bool:
        return self._captioner is not None and self._ranker is not None

    def load(self) -> None:
        """Load both models (blocking; a no-op once loaded). Raises :class:`ModelLoadError`."""
        self._models()

    def _models(self) -> tuple[_Captioner, _ClipRanker]:
        with self._lock:
            if self._captioner is None:
                self._captioner = _load_captioner(self.config)
            if self._ranker is None:
                ranker = _load_ranker(self.config)
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


def _distinct_captions(captioner: _Captioner, image: Image, *, seed: int, count: int) -> list[str]:
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


@contextmanager
def _seeded(seed: int, device: str) -> Iterator[None]:
    # Seed torch's global RNG, restoring the previous state afterwards.
    import torch

    kind = torch.device(device).type
    devices = [] if kind == "cpu" else [torch.device(device).index or 0]
    with torch.random.fork_rng(devices=devices, device_type=None if kind == "cpu" else kind):
        torch.manual_seed(seed)
        yield


@dataclass(eq=False)
class _Captioner:
    kind: str
    """``blip`` or ``florence2``."""
    model: Any
    processor: Any
    device: str
    dtype: Any

    def captions(self, image: Image, *, count: int, seed: int | None) -> list[str]:
        """``count`` raw captions: beam search when ``seed`` is None, else seeded sampling."""
        import torch

        if self.kind == "florence2":
            inputs = self.processor(text=FLORENCE_TASK, images=image, return_tensors="pt")
        else:
            inputs = self.processor(images=image, return_tensors="pt")
        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        options: dict[str, Any] = {
            "max_new_tokens": MAX_NEW_TOKENS[self.kind],
            "num_return_sequences": count,
        }
        if seed is None:
            with torch.inference_mode():
                ids = self.model.generate(
                    **inputs, **options, num_beams=max(4, count), do_sample=False
                )
        else:
            with _seeded(seed, self.device), torch.inference_mode():
                ids = self.model.generate(**inputs, **options, do_sample=True, top_p=0.9)
        texts = self.processor.batch_decode(ids, skip_special_tokens=True)
        if self.kind == "florence2":
            post_process = self.processor.post_process_generation
            size = (image.width, image.height)
            texts = [
                post_process(text, task=FLORENCE_TASK, image_size=size)[FLORENCE_TASK]
                for text in texts
            ]
        return [str(text) for text in texts]


@dataclass(eq=False)
class _ClipRanker:
    model: Any
    processor: Any
    device: str
    dtype: Any
    _labels: Any = field(default=None, repr=False)

    def label_features(self) -> Any:
        """Unit text embeddings of every bank term, in bank order (computed once)."""
        if self._labels is None:
            self._labels = self._compute_label_features()
        return self._labels

    def _compute_label_features(self) -> Any:
        import torch

        texts = [term for bank in LABEL_BANKS for term in bank.terms]
        chunks = []
        for start in range(0, len(texts), 64):
            tokens = self.processor.tokenizer(
                texts[start : start + 64], padding=True, truncation=True, return_tensors="pt"
            )
            tokens = {key: value.to(self.device) for key, value in tokens.items()}
            with torch.inference_mode():
                chunks.append(_unit(self.model.get_text_features(**tokens)))
        return torch.cat(chunks)

    def image_features(self, image: Image) -> Any:
        """The unit CLIP embedding of ``image`` (a vector)."""
        import torch

        pixels = self.processor(images=image, return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            features = self.model.get_image_features(
                pixel_values=pixels.to(self.device, self.dtype)
            )
        return _unit(features)[0]

    def scores(self, image: Image) -> list[float]:
        """Cosine similarity of ``image`` to every bank term, in bank order."""
        similarity = self.label_features() @ self.image_features(image)
        return [float(score) for score in similarity.float().cpu().tolist()]


def _unit(output: Any) -> Any:
    import torch

    # transformers 5 returns a model output whose pooler_output holds the projected features.
    features = output if isinstance(output, torch.Tensor) else output.pooler_output
    return features / features.norm(dim=-1, keepdim=True)


def _dtype(device: str) -> Any:
    import torch

    return torch.float16 if device.startswith("cuda") else torch.float32


@dataclass(frozen=True, slots=True)
class _Source:
    """A model setting: its value, the variable that sets it, and the built-in's recipe."""

    value: str
    setting: str
    what: str
    tiny_name: str
    build: Callable[[], tuple[Any, Any]]

    def fail(self, problem: object) -> ModelLoadError:
        return ModelLoadError(
            f"could not load the {self.what} model {self.value} ({self.setting}): {problem}"
        )

    def locate(self, cache_dir: Path) -> tuple[str, bool]:
        """What ``from_pretrained`` is given, and whether that is a local folder."""
        if self.value == BUILTIN_TINY:
            folder = cache_dir / f"{self.tiny_name}-v{_TINY_VERSION}"
            return str(_ensure_tiny(folder, self.build)), True
        if self.value.startswith("builtin:"):
            raise self.fail(f"the only built-in model is {BUILTIN_TINY}")
        path = Path(self.value).expanduser()
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise self.fail(f"the folder {path} has no config.json")
            return str(path), True
        if self.value.startswith((".", "/", "~")) or path.exists():
            raise self.fail(f"there is no model folder {path}")
        return self.value, False

    def config(self, where: str, local: bool) -> dict[str, Any]:
        from transformers import PreTrainedConfig

        raw, _ = PreTrainedConfig.get_config_dict(where, local_files_only=local)
        return dict(raw)


def _load_captioner(config: DescribeConfig) -> _Captioner:
    from transformers import (
        AutoProcessor,
        BlipForConditionalGeneration,
        Florence2ForConditionalGeneration,
    )

    classes = {"blip": BlipForConditionalGeneration, "florence2": Florence2ForConditionalGeneration}
    source = _Source(
        config.caption_model, "MJ_CAPTION_MODEL", "captioning", "builtin-tiny-blip", build_tiny_blip
    )
    dtype = _dtype(config.device)
    try:
        where, local = source.locate(config.cache_dir)
        raw = source.config(where, local)
        kind = raw.get("model_type")
        if kind not in classes:
            raise source.fail(f"it is {_kind(kind)}; use a BLIP or Florence-2 captioner")
        if "auto_map" in raw:
            raise source.fail(
                "it is an original remote-code checkpoint; use a transformers-native one "
                "(the “-hf” conversions of Florence-2)"
            )
        model = classes[kind].from_pretrained(where, dtype=dtype, local_files_only=local)
        processor = AutoProcessor.from_pretrained(where, local_files_only=local)
    except (OSError, ValueError) as error:
        raise source.fail(error) from error
    model = model.to(config.device).eval()
    log.info(
        "loaded captioning model %s (%s) on %s as %s", source.value, kind, config.device, dtype
    )
    return _Captioner(str(kind), model, processor, config.device, dtype)


def _load_ranker(config: DescribeConfig) -> _ClipRanker:
    from transformers import AutoProcessor, CLIPModel

    source = _Source(
        config.clip_model, "MJ_CLIP_MODEL", "CLIP", "builtin-tiny-clip", build_tiny_clip
    )
    dtype = _dtype(config.device)
    try:
        where, local = source.locate(config.cache_dir)
        kind = source.config(where, local).get("model_type")
        if kind != "clip":
            raise source.fail(f"it is {_kind(kind)}; use a CLIP model (CLIPModel)")
        model = CLIPModel.from_pretrained(where, dtype=dtype, local_files_only=local)
        processor = AutoProcessor.from_pretrained(where, local_files_only=local)
    except (OSError, ValueError) as error:
        raise source.fail(error) from error
    model = model.to(config.device).eval()
    log.info("loaded CLIP model %s on %s as %s", source.value, config.device, dtype)
    return _ClipRanker(model, processor, config.device, dtype)


def _kind(model_type: object) -> str:
    return f"a {model_type} model" if model_type else "a model without a model_type"


def _ensure_tiny(folder: Path, build: Callable[[], tuple[Any, Any]]) -> Path:
    # Built once, then loaded from disk like any local model.
    if (folder / "config.json").exists():
        return folder
    model, processor = build()
    folder.parent.mkdir(parents=True, exist_ok=True)
    # A private scratch folder, renamed into place: a half-written model is never picked up,
    # and two processes building at once do not write into each other's files.
    partial = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", suffix=".partial", dir=folder.parent))
    try:
        model.save_pretrained(partial, safe_serialization=True)
        processor.save_pretrained(partial)
        partial.rename(folder)
    except OSError:
        if not (folder / "config.json").exists():  # not just another process finishing first
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


_TINY_WORDS = """
    a an the of in on with and at by under near two small large old young red blue green
    white black golden dark bright cat dog bird horse man woman child people city street
    house tree forest mountain river lake sea beach sky clouds sunset night field flower
    road bridge car boat painting photo portrait standing sitting walking
"""


def build_tiny_blip() -> tuple[Any, Any]:
    """A random-weight BLIP captioner and its processor (a vocabulary of English words)."""
    import torch
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessorPil,
        BlipProcessor,
        BlipTextConfig,
        BlipVisionConfig,
    )

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {word: i for i, word in enumerate(specials + _TINY_WORDS.split())}
    tokenizer = BertTokenizer(vocab=vocab, model_max_length=32)
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})  # BLIP's decoder starts with [DEC]
    text = BlipTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        bos_token_id=tokenizer.bos_token_id,
        sep_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
        encoder_hidden_size=32,  # must equal the vision hidden_size
    )
    vision = BlipVisionConfig(
        image_size=32,
        patch_size=4,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BlipForConditionalGeneration(
            BlipConfig(
                text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=32
            )
        )
    image_processor = BlipImageProcessorPil(size={"height": 32, "width": 32})
    return model, BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)


def build_tiny_clip() -> tuple[Any, Any]:
    """A random-weight CLIP model and its processor (the byte tokenizer of :mod:`engine.tiny`)."""
    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessorPil,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
    )

    with tempfile.TemporaryDirectory() as tmp:
        write_byte_tokenizer(Path(tmp))
        tokenizer = CLIPTokenizer.from_pretrained(tmp, local_files_only=True)
    config = CLIPConfig(
        text_config={
            "vocab_size": 1000,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "bos_token_id": 0,
            "eos_token_id": 2,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "image_size": 32,
            "patch_size": 4,
        },
        projection_dim=16,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = CLIPModel(config)
    image_processor = CLIPImageProcessorPil(size=32, crop_size=32)
    return model, CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
