"""The models behind ``/describe``: captioner and CLIP ranker wrappers, loading them from a
setting (folder, Hub id or ``builtin:tiny``), and the built-in tiny random-weight models."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ModelLoadError
from engine.labels import LABEL_BANKS
from engine.tiny import write_byte_tokenizer

if TYPE_CHECKING:
    from PIL.Image import Image


__all__ = [
    "BUILTIN_TINY",
    "Captioner",
    "ClipRanker",
    "DescribeConfig",
    "build_tiny_blip",
    "build_tiny_clip",
    "load_captioner",
    "load_ranker",
]

log = logging.getLogger(__name__)

BUILTIN_TINY = "builtin:tiny"
FLORENCE_TASK = "<DETAILED_CAPTION>"
MAX_NEW_TOKENS = {"blip": 30, "florence2": 64}
_TINY_VERSION = "1"  # bump when a tiny architecture below changes, so caches are rebuilt


@dataclass(frozen=True, slots=True)
class DescribeConfig:
    """Where the two models come from. Sources: ``builtin:tiny``, a folder, or a Hub id (read
    from the HF cache when offline)."""

    caption_model: str = BUILTIN_TINY
    """BLIP- or Florence-2-class captioner (``MJ_CAPTION_MODEL``), told apart by the
    ``model_type`` of its ``config.json``."""
    clip_model: str = BUILTIN_TINY
    """``CLIPModel`` that ranks the style terms (``MJ_CLIP_MODEL``), e.g.
    ``openai/clip-vit-large-patch14``."""
    device: str = "cpu"
    """Already resolved by the caller: ``cuda``, ``cpu`` or ``mps``."""
    cache_dir: Path = Path("data/models")
    """Where the built-in tiny models are saved."""


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
class Captioner:
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
class ClipRanker:
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


def load_captioner(config: DescribeConfig) -> Captioner:
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
    return Captioner(str(kind), model, processor, config.device, dtype)


def load_ranker(config: DescribeConfig) -> ClipRanker:
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
    return ClipRanker(model, processor, config.device, dtype)


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
