"""``builtin:tiny`` models: small random-weight SD/SDXL pipelines built in code, no download.

Their images are noise; they exist so that everything runs and is tested offline with the
production geometry (a 4-block VAE, so latents are 1/8 of the image as in real models). They
are built once, saved under the data folder and then loaded like any local model, so the
real loading path is what runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "TINY_SOURCES",
    "build_tiny_pipeline",
    "byte_symbols",
    "ensure_tiny_model",
    "write_byte_tokenizer",
]

TINY_SOURCES = {"builtin:tiny": "sd", "builtin:tiny-sdxl": "sdxl"}
_VERSION = "1"  # bump when the architecture below changes, so caches are rebuilt


def ensure_tiny_model(source: str, cache_dir: Path) -> Path:
    """The folder of the built-in model ``source``, building and saving it on first use."""
    kind = TINY_SOURCES[source]
    folder = cache_dir / f"builtin-tiny-{kind}-v{_VERSION}"
    if (folder / "model_index.json").exists():
        return folder
    pipe = build_tiny_pipeline(kind)
    partial = folder.with_name(folder.name + ".partial")
    pipe.save_pretrained(partial, safe_serialization=True)
    partial.rename(folder)  # atomic: a half-written model is never picked up
    return folder


def write_byte_tokenizer(folder: Path) -> None:
    """Write a CLIP tokenizer whose vocabulary is the 256 byte symbols (with and without ``</w>``).

    Any text tokenizes (character by character) and different texts give different ids,
    without a download. ``model_max_length`` must be set, or pipelines pad to 1e30 tokens.
    """
    folder.mkdir(parents=True, exist_ok=True)
    symbols = byte_symbols()
    vocab = {s: i for i, s in enumerate(symbols)}
    vocab.update({s + "</w>": i + len(symbols) for i, s in enumerate(symbols)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    config = {
        "model_max_length": 77,
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")


def byte_symbols() -> list[str]:
    """The 256 printable symbols GPT-2/CLIP tokenizers use for bytes, in byte order."""
    return list(_bytes_to_unicode().values())


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2/CLIP's reversible byte → printable character table.
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def build_tiny_pipeline(kind: str) -> Any:
    """A fresh random-weight pipeline: ``"sd"`` (SD 1.5-class) or ``"sdxl"``."""
    import tempfile

    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import (
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
    )

    with tempfile.TemporaryDirectory() as tmp:
        write_byte_tokenizer(Path(tmp))
        tokenizer = CLIPTokenizer.from_pretrained(tmp, local_files_only=True)
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=[4, 4, 8, 8],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        latent_channels=4,
        norm_num_groups=2,
        sample_size=256,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    if kind == "sd":
        from diffusers import StableDiffusionPipeline

        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            block_out_channels=(4, 8),
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=8,
            norm_num_groups=2,
        )
        torch.manual_seed(0)
        text_encoder = CLIPTextModel(_text_config())
        return StableDiffusionPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            image_encoder=None,
            requires_safety_checker=False,
        )
    from diffusers import StableDiffusionXLPipeline

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        attention_head_dim=(2, 4),
        sample_size=32,
        in_channels=4,
        out_channels=4,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 8 + 16,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        norm_num_groups=2,
    )
    text_config = _text_config(hidden_act="gelu", projection_dim=16)
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(text_config)
    torch.manual_seed(0)
    text_encoder_2 = CLIPTextModelWithProjection(text_config)
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=scheduler,
        image_encoder=None,
        feature_extractor=None,
        force_zeros_for_empty_prompt=False,
    )


def _text_config(**extra: Any) -> Any:
    """The tiny CLIP text encoder's config (SDXL adds ``gelu`` and a projection)."""
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
        vocab_size=1000,
        hidden_size=8,
        intermediate_size=16,
        num_attention_heads=2,
        num_hidden_layers=2,
        layer_norm_eps=1e-5,
        max_position_embeddings=77,
        **extra,
    )
