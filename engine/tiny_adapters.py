"""``builtin:tiny`` IP-Adapters: random-weight adapters for the built-in tiny models.

They are written in the original IP-Adapter checkpoint format (``image_proj.*`` and
``ip_adapter.*`` keys in ``.safetensors`` files), in ``h94/IP-Adapter``'s folder layout with
a tiny CLIP vision encoder under ``models/image_encoder``, so the production loading path
(``load_ip_adapter`` with its key conversion) is what runs in tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from engine.adapter_layout import ADAPTER_FILES

__all__ = ["TINY_ADAPTERS", "ensure_tiny_adapters"]

TINY_ADAPTERS = "builtin:tiny"
_VERSION = "1"  # bump when the tiny models or the adapters below change
ENCODER_HIDDEN = 32
ENCODER_PROJECTION = 32
TOKENS = 4


def ensure_tiny_adapters(cache_dir: Path) -> Path:
    """The folder of the built-in adapters, building and saving it on first use."""
    folder = cache_dir / f"builtin-tiny-ip-adapter-v{_VERSION}"
    if (folder / "models" / "image_encoder" / "config.json").exists():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    _write(partial)
    partial.rename(folder)  # atomic: a half-written folder is never picked up
    return folder


def _write(folder: Path) -> None:
    import shutil

    import torch
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from engine.tiny import build_tiny_pipeline

    shutil.rmtree(folder, ignore_errors=True)
    torch.manual_seed(0)
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=ENCODER_HIDDEN,
            projection_dim=ENCODER_PROJECTION,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            image_size=32,
            patch_size=4,
        )
    )
    encoder.save_pretrained(folder / ADAPTER_FILES["sd"].encoder)
    for seed, kind in enumerate(("sd", "sdxl")):
        unet = build_tiny_pipeline(kind).unet
        files = ADAPTER_FILES[kind]
        for offset, (subfolder, name) in enumerate((files.plain, files.plus, files.plus_face)):
            torch.manual_seed(100 * seed + offset)
            plus = offset > 0
            state = {
                **{f"image_proj.{k}": v for k, v in _projection(unet, plus).items()},
                **{f"ip_adapter.{k}": v for k, v in _attention(unet).items()},
            }
            (folder / subfolder).mkdir(parents=True, exist_ok=True)
            save_file({k: v.contiguous() for k, v in state.items()}, folder / subfolder / name)


def _attention(unet: Any) -> dict[str, Any]:
    """``to_k_ip``/``to_v_ip`` of every cross-attention, numbered as the original code does
    (attention processors counted in pairs: odd ids are the cross-attentions)."""
    import torch
    from diffusers.models.attention_processor import IPAdapterAttnProcessor

    out: dict[str, Any] = {}
    key_id = 1
    channels = list(unet.config.block_out_channels)
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            hidden = channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(channels))[int(name.split(".")[1])]
        else:
            hidden = channels[int(name.split(".")[1])]
        processor = IPAdapterAttnProcessor(hidden, unet.config.cross_attention_dim)
        weights = processor.state_dict()
        with torch.no_grad():  # stronger than the default init, so tiny models visibly react
            out[f"{key_id}.to_k_ip.weight"] = weights["to_k_ip.0.weight"] * 4
            out[f"{key_id}.to_v_ip.weight"] = weights["to_v_ip.0.weight"] * 4
        key_id += 2
    return out


def _projection(unet: Any, plus: bool) -> dict[str, Any]:
    from diffusers.models.embeddings import ImageProjection, IPAdapterPlusImageProjection

    cross = int(unet.config.cross_attention_dim)
    if not plus:
        weights = ImageProjection(
            image_embed_dim=ENCODER_PROJECTION,
            cross_attention_dim=cross,
            num_image_text_embeds=TOKENS,
        ).state_dict()
        return {
            "proj.weight": weights["image_embeds.weight"],
            "proj.bias": weights["image_embeds.bias"],
            "norm.weight": weights["norm.weight"],
            "norm.bias": weights["norm.bias"],
        }
    resampler = IPAdapterPlusImageProjection(
        embed_dims=ENCODER_HIDDEN,
        output_dims=cross,
        hidden_dims=16,
        depth=4,
        dim_head=64,
        heads=1,
        num_queries=TOKENS,
    )
    return _original_resampler_keys(resampler.state_dict())


_RENAMES = [
    (re.compile(r"^layers\.(\d+)\.attn\.to_q\."), r"layers.\1.0.to_q."),
    (re.compile(r"^layers\.(\d+)\.attn\.to_out\.0\."), r"layers.\1.0.to_out."),
    (re.compile(r"^layers\.(\d+)\.ln0\."), r"layers.\1.0.norm1."),
    (re.compile(r"^layers\.(\d+)\.ln1\."), r"layers.\1.0.norm2."),
    (re.compile(r"^layers\.(\d+)\.ff\.0\."), r"layers.\1.1.0."),
    (re.compile(r"^layers\.(\d+)\.ff\.1\.net\.0\.proj\."), r"layers.\1.1.1."),
    (re.compile(r"^layers\.(\d+)\.ff\.1\.net\.2\."), r"layers.\1.1.3."),
]


def _original_resampler_keys(weights: dict[str, Any]) -> dict[str, Any]:
    """diffusers' Resampler names → the original IP-Adapter Plus checkpoint names (the
    inverse of diffusers' ``_convert_ip_adapter_image_proj_to_diffusers``)."""
    import torch

    out: dict[str, Any] = {}
    for key, value in weights.items():
        kv = re.match(r"^layers\.(\d+)\.attn\.to_([kv])\.weight$", key)
        if kv:
            if kv.group(2) == "k":
                v = weights[f"layers.{kv.group(1)}.attn.to_v.weight"]
                out[f"layers.{kv.group(1)}.0.to_kv.weight"] = torch.cat([value, v])
            continue
        for pattern, replacement in _RENAMES:
            if pattern.match(key):
                key = pattern.sub(replacement, key)
                break
        out[key] = value
    return out
