"""``/describe``: captions, CLIP-ranked terms, ``--ar``, loading, threads (tiny models)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from engine import describe_models as describe_module
from engine.describe import (
    FALLBACK_CAPTION,
    MAX_CAPTION_WORDS,
    DescribeConfig,
    Describer,
    aspect_parameter,
    clean_caption,
    compose_prompts,
    pick_terms,
    rank_banks,
)
from engine.errors import InvalidRequestError, ModelLoadError
from engine.labels import LABEL_BANKS
from parser import parse_one

TERM_COUNT = sum(len(bank.terms) for bank in LABEL_BANKS)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    # Tiny models gain nothing from a second thread, and on a busy 2-core machine the
    # threads' spin-waits make each step 10-100× slower.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("describe-models")


@pytest.fixture(scope="module")
def describer(cache_dir: Path) -> Iterator[Describer]:
    describer = Describer(DescribeConfig(cache_dir=cache_dir))
    describer.load()
    yield describer
    asyncio.run(describer.close())


def picture(width: int = 64, height: int = 64, mode: str = "RGB") -> Image.Image:
    return Image.new(mode, (width, height), "orange" if mode in ("RGB", "RGBA") else 128)


def assert_prompts(prompts: list[str], count: int, aspect: str) -> None:
    assert len(prompts) == count
    assert len(set(prompts)) == count
    for prompt in prompts:
        assert prompt.endswith(f" --ar {aspect}")
        assert prompt[0].isalpha()  # no numbering, no emoji: the bot adds 1️⃣…
        parsed = parse_one(prompt)
        width, height = (int(side) for side in aspect.split(":"))
        assert parsed.params.aspect == (width, height)
        assert parsed.text == prompt.removesuffix(f" --ar {aspect}")


# aspect_parameter


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (1920, 1080, "16:9"),
        (1080, 1920, "9:16"),
        (1000, 667, "3:2"),
        (667, 1000, "2:3"),
        (1366, 768, "16:9"),
        (512, 512, "1:1"),
        (1, 1, "1:1"),
        (1024, 256, "4:1"),
        (300, 1500, "1:4"),
        (5000, 10, "4:1"),
        (1, 4000, "1:4"),
        (1001, 1000, "1:1"),
    ],
)
def test_aspect_parameter_reduces_and_clamps(width: int, height: int, expected: str) -> None:
    assert aspect_parameter(width, height) == f"--ar {expected}"


def test_aspect_parameter_keeps_terms_small_and_close() -> None:
    for width in range(40, 2200, 37):
        for height in range(40, 2200, 53):
            a, b = (int(term) for term in aspect_parameter(width, height)[5:].split(":"))
            assert 1 <= a <= 21
            assert 1 <= b <= 21
            assert Fraction(1, 4) <= Fraction(a, b) <= 4
            if Fraction(1, 4) <= Fraction(width, height) <= 4:
                assert abs(a / b - width / height) / (width / height) < 0.05


def test_aspect_parameter_rejects_empty_images() -> None:
    with pytest.raises(InvalidRequestError):
        aspect_parameter(0, 10)


# clean_caption


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("arafed man in a suit standing on a street.", "man in a suit standing on a street"),
        ("araffe cat cat sitting  on a   couch!", "cat sitting on a couch"),
        (
            "The image shows a red car. It is parked near a tree.",
            "a red car, it is parked near a tree",
        ),
        ("there is a dog on the beach", "a dog on the beach"),
        ("NASA rocket at launch", "NASA rocket at launch"),
        ("Paris at night. The Eiffel Tower glows", "Paris at night, the Eiffel Tower glows"),
        ("A cat on a mat", "a cat on a mat"),
        ("  , ... ", ""),
        ("\ufffd\x00\x19", ""),
    ],
)
def test_clean_caption_tidies_model_output(raw: str, expected: str) -> None:
    assert clean_caption(raw) == expected


def test_clean_caption_removes_prompt_syntax() -> None:
    caption = clean_caption("https://x.io/a.png a cat --ar 2:1 — dog :: 2 {red, blue} \\, <b> [x]")
    for syntax in ("--", "—", "::", "{", "}", "\\", "<", ">", "http"):
        assert syntax not in caption
    assert parse_one(caption).params.aspect is None


def test_clean_caption_limits_length_at_a_clause() -> None:
    long = "a very long caption, " + " ".join(["word"] * 30) + ", and more words " * 10
    caption = clean_caption(long)
    assert len(caption.split()) <= MAX_CAPTION_WORDS
    assert not caption.endswith(",")


# Ranking and mixing


def test_pick_terms_varies_every_bank_across_candidates() -> None:
    ranked = [[f"{bank.name}{rank}" for rank in range(10)] for bank in LABEL_BANKS]
    picks = [pick_terms(ranked, index) for index in range(4)]
    assert picks[0] == [bank[0] for bank in ranked]  # the classic best-of-each-bank answer
    assert len({tuple(p) for p in picks}) == 4
    for j in range(len(ranked)):
        assert len({picks[i][j] for i in (1, 2, 3)}) == 3
        assert all(int(picks[i][j].removeprefix(LABEL_BANKS[j].name)) < 3 for i in range(4))


def test_rank_banks_orders_each_bank_by_score() -> None:
    scores = [0.0] * TERM_COUNT
    scores[len(LABEL_BANKS[0].terms) - 1] = 0.9  # the last medium
    scores[1] = 0.5
    ranked = rank_banks(scores)
    assert ranked[0][:3] == [
        LABEL_BANKS[0].terms[-1],
        LABEL_BANKS[0].terms[1],
        LABEL_BANKS[0].terms[0],
    ]
    assert ranked[1] == list(LABEL_BANKS[1].terms)  # ties keep the bank's order
    with pytest.raises(ValueError, match="scores"):
        rank_banks(scores[:-1])


def test_compose_prompts_fills_up_from_one_caption() -> None:
    ranked = [list(bank.terms) for bank in LABEL_BANKS]
    prompts = compose_prompts(["a cat"], ranked, "--ar 1:1", 10)
    assert len(set(prompts)) == 10
    assert all(p.startswith("a cat, ") for p in prompts)


def test_label_banks_are_distinct_and_parse_safe() -> None:
    terms = [term for bank in LABEL_BANKS for term in bank.terms]
    assert len(terms) == len(set(terms))
    assert all(len(bank.terms) >= 20 for bank in LABEL_BANKS)
    assert parse_one(", ".join(terms)).params.aspect is None


# Describer with the built-in tiny models


@pytest.mark.parametrize(
    ("size", "aspect"),
    [((1920, 1080), "16:9"), ((1000, 667), "3:2"), ((96, 96), "1:1"), ((300, 1500), "1:4")],
)
def test_describe_returns_four_distinct_prompts(
    describer: Describer, size: tuple[int, int], aspect: str
) -> None:
    assert_prompts(describer.describe(picture(*size)), 4, aspect)


def test_describe_same_seed_gives_same_prompts(describer: Describer) -> None:
    image = picture(80, 60)
    assert describer.describe(image) == describer.describe(image)
    assert describer.describe(image, seed=7) == describer.describe(image, seed=7)


def test_describe_different_seeds_give_different_prompts(describer: Describer) -> None:
    image = picture(80, 60)
    results = [set(describer.describe(image, seed=seed)) for seed in (0, 1, 2)]
    assert results[0] != results[1] != results[2] != results[0]


@pytest.mark.parametrize("count", [1, 6])
def test_describe_honours_count(describer: Describer, count: int) -> None:
    assert_prompts(describer.describe(picture(), seed=3, count=count), count, "1:1")


def test_describe_rejects_bad_count(describer: Describer) -> None:
    with pytest.raises(InvalidRequestError, match="count"):
        describer.describe(picture(), count=0)


@pytest.mark.parametrize(
    "image",
    [
        picture(50, 40, "RGBA"),
        picture(40, 50, "L"),
        picture(32, 32, "1"),
        picture(32, 32, "CMYK"),
        picture(32, 32, "I;16"),
        picture(32, 32, "RGB").convert("P"),
        picture(1, 1, "RGBA"),
        picture(1, 3000),
    ],
    ids=["RGBA", "L", "1", "CMYK", "I;16", "P", "1x1", "1x3000"],
)
def test_describe_accepts_any_image(describer: Describer, image: Image.Image) -> None:
    aspect = aspect_parameter(image.width, image.height).removeprefix("--ar ")
    assert_prompts(describer.describe(image, seed=5), 4, aspect)


def test_describe_fills_up_when_captions_repeat(
    describer: Describer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(describe_module.Captioner, "captions", lambda *a, **k: ["a cat."] * 4)
    prompts = describer.describe(picture())
    assert_prompts(prompts, 4, "1:1")
    assert all(p.startswith("a cat, ") for p in prompts)
    monkeypatch.setattr(describe_module.Captioner, "captions", lambda *a, **k: ["", "..."])
    assert all(p.startswith(FALLBACK_CAPTION + ", ") for p in describer.describe(picture()))


def test_builtin_models_are_saved_and_loaded_back(
    describer: Describer, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, model_type in (("builtin-tiny-blip-v1", "blip"), ("builtin-tiny-clip-v1", "clip")):
        folder = cache_dir / name
        assert (folder / "model.safetensors").is_file()
        assert json.loads((folder / "config.json").read_text())["model_type"] == model_type
    assert not list(cache_dir.glob("*.partial"))

    def no_build() -> Any:
        raise AssertionError("rebuilt a tiny model that is on disk")

    monkeypatch.setattr(describe_module, "build_tiny_blip", no_build)
    monkeypatch.setattr(describe_module, "build_tiny_clip", no_build)
    again = Describer(DescribeConfig(cache_dir=cache_dir))
    again.load()
    image = picture(70, 50)
    assert again.describe(image) == describer.describe(image)  # the same weights


def test_missing_caption_folder_names_the_setting(tmp_path: Path) -> None:
    config = DescribeConfig(caption_model=str(tmp_path / "nowhere"), cache_dir=tmp_path)
    with pytest.raises(ModelLoadError, match="MJ_CAPTION_MODEL"):
        Describer(config).load()


def test_empty_caption_folder_names_the_setting(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    config = DescribeConfig(caption_model=str(tmp_path / "empty"), cache_dir=tmp_path)
    with pytest.raises(ModelLoadError, match=r"could not load the captioning model .*MJ_CAPTION"):
        Describer(config).load()


def test_models_of_the_wrong_kind_are_refused(cache_dir: Path, describer: Describer) -> None:
    clip_folder, blip_folder = (
        cache_dir / "builtin-tiny-clip-v1",
        cache_dir / "builtin-tiny-blip-v1",
    )
    config = DescribeConfig(caption_model=str(clip_folder), cache_dir=cache_dir)
    with pytest.raises(ModelLoadError, match=r"MJ_CAPTION_MODEL\): it is a clip model; use a BLIP"):
        Describer(config).load()
    config = DescribeConfig(clip_model=str(blip_folder), cache_dir=cache_dir)
    with pytest.raises(ModelLoadError, match=r"MJ_CLIP_MODEL\): it is a blip model; use a CLIP"):
        Describer(config).load()


def test_missing_clip_model_names_the_setting(cache_dir: Path, tmp_path: Path) -> None:
    config = DescribeConfig(clip_model=str(tmp_path / "nowhere"), cache_dir=cache_dir)
    with pytest.raises(ModelLoadError, match="MJ_CLIP_MODEL"):
        Describer(config).load()
    config = DescribeConfig(clip_model="builtin:huge", cache_dir=cache_dir)
    with pytest.raises(ModelLoadError, match="MJ_CLIP_MODEL"):
        Describer(config).load()


async def test_describe_async_runs_on_its_thread_and_encodes_labels_once(
    describer: Describer, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    encode = describe_module.ClipRanker._compute_label_features

    def counted(self: Any) -> Any:
        calls.append(threading.current_thread().name)
        return encode(self)

    monkeypatch.setattr(describe_module.ClipRanker, "_compute_label_features", counted)
    fresh = Describer(DescribeConfig(cache_dir=cache_dir))
    image = picture(64, 48)
    first, second = await asyncio.gather(
        fresh.describe_async(image), fresh.describe_async(image, seed=9)
    )
    assert first == describer.describe(image)
    assert_prompts(second, 4, "4:3")
    assert fresh.describe(image, seed=9) == second
    assert len(calls) == 1
    assert calls[0].startswith("describe")  # loaded on the describer's thread, not the loop's
    await fresh.close()
    with pytest.raises(RuntimeError):
        await fresh.describe_async(image)


def test_clip_ranking_picks_the_top_scoring_terms(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    # One unit feature per term, and an image whose similarity to term k is scores[k].
    scores = torch.zeros(TERM_COUNT)
    best: list[str] = []
    second: list[str] = []
    third: list[str] = []
    start = 0
    for bank in LABEL_BANKS:
        for target, score, offset in ((best, 0.9, -1), (second, 0.6, -2), (third, 0.3, -3)):
            target.append(bank.terms[offset])
            scores[start + len(bank.terms) + offset] = score
        start += len(bank.terms)
    monkeypatch.setattr(
        describe_module.ClipRanker, "_compute_label_features", lambda self: torch.eye(TERM_COUNT)
    )
    monkeypatch.setattr(describe_module.ClipRanker, "image_features", lambda self, image: scores)
    prompts = Describer(DescribeConfig(cache_dir=cache_dir)).describe(picture())
    assert prompts[0].endswith(", " + ", ".join(best) + " --ar 1:1")
    by_rank = (best, second, third)
    expected = [by_rank[j % 3][j] for j in range(len(LABEL_BANKS))]  # candidate 1: ranks 0,1,2,0,1
    assert prompts[1].endswith(", " + ", ".join(expected) + " --ar 1:1")


def test_import_is_cheap() -> None:
    code = (
        "import sys, engine.describe; print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


# Florence-2 (a tiny transformers-native checkpoint, built like the transformers test config)


def build_tiny_florence(folder: Path) -> None:
    import torch
    from transformers import (
        BartTokenizer,
        CLIPImageProcessorPil,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
    )

    # Byte-level BPE over a few words and letters; the rest of the prompt maps to <unk>.
    words = [
        "cat",
        "dog",
        "house",
        "tree",
        "river",
        "sky",
        "city",
        "street",
        "red",
        "blue",
        "old",
        "small",
        "the",
        "a",
        "of",
        "on",
    ]
    vocab = {token: i for i, token in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<image>"])}
    for token in ["Ġ", *("Ġ" + w for w in words), *"abcdefghijklmnopqrstuvwxyz", "<mask>"]:
        vocab[token] = len(vocab)
    tokenizer = BartTokenizer(
        vocab=vocab,
        merges=[],
        model_max_length=128,
        extra_special_tokens={"image_token": "<image>"},
    )
    # 16 px, stride 4: 4×4 patch tokens plus one pooled token.
    image_processor = CLIPImageProcessorPil(
        size={"height": 16, "width": 16}, do_center_crop=False, image_seq_length=17
    )
    processor = Florence2Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        post_processor_config={"pure_text": {}},
    )
    config = Florence2Config(
        text_config={
            "model_type": "bart",
            "vocab_size": len(tokenizer),
            "d_model": 8,
            "encoder_layers": 1,
            "decoder_layers": 1,
            "encoder_ffn_dim": 8,
            "decoder_ffn_dim": 8,
            "encoder_attention_heads": 1,
            "decoder_attention_heads": 1,
            "max_position_embeddings": 128,
            "bos_token_id": 0,
            "pad_token_id": 1,
            "eos_token_id": 2,
            "decoder_start_token_id": 2,
        },
        vision_config={
            "depths": [1],
            "patch_size": [7],
            "patch_stride": [4],
            "patch_padding": [3],
            "patch_prenorm": [False],
            "embed_dim": [8],
            "num_heads": [1],
            "num_groups": [1],
            "window_size": 12,
            "projection_dim": 8,
        },
        image_token_id=tokenizer.image_token_id,
    )
    torch.manual_seed(0)
    Florence2ForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)


@pytest.fixture(scope="module")
def florence(cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Describer]:
    folder = tmp_path_factory.mktemp("florence")
    build_tiny_florence(folder)
    describer = Describer(DescribeConfig(caption_model=str(folder), cache_dir=cache_dir))
    describer.load()
    yield describer
    asyncio.run(describer.close())


def test_florence_captioner_describes(florence: Describer, monkeypatch: pytest.MonkeyPatch) -> None:
    captioner, _ = florence._models()
    assert captioner.kind == "florence2"
    tasks: list[str] = []
    post_process = captioner.processor.post_process_generation

    def spy(text: str, **options: Any) -> Any:
        tasks.append(options["task"])
        return post_process(text, **options)

    monkeypatch.setattr(captioner.processor, "post_process_generation", spy)
    image = picture(120, 90)
    prompts = florence.describe(image)
    assert_prompts(prompts, 4, "4:3")
    assert not any(p.startswith(FALLBACK_CAPTION + ",") for p in prompts)  # real captions
    assert set(tasks) == {"<DETAILED_CAPTION>"}
    assert florence.describe(image, seed=4) == florence.describe(image, seed=4)
    assert florence.describe(image, seed=4) != prompts
