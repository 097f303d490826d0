"""Test helper: write an SD 1.x diffusers pipeline as an original (LDM) single-file checkpoint.

Real single-file checkpoints (A1111/Civitai) use the original Stable Diffusion key names.
This inverts diffusers' ``convert_ldm_*_checkpoint`` for any block/layer count, so the tests
can produce such a file for the tiny model and load it back through ``from_single_file``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
TEXT_PREFIX = "cond_stage_model.transformer."

_RESNET = [
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("time_emb_proj", "emb_layers.1"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("conv_shortcut", "skip_connection"),
]
_VAE_RESNET = [("conv_shortcut", "nin_shortcut")]
_VAE_ATTENTION = [
    ("group_norm", "norm"),
    ("to_q", "q"),
    ("to_k", "k"),
    ("to_v", "v"),
    ("to_out.0", "proj_out"),
]


def _rename(key: str, table: list[tuple[str, str]]) -> str:
    for new, old in table:
        key = key.replace(f".{new}.", f".{old}.")
    return key


def unet_to_ldm(state: dict[str, Any], config: Any) -> dict[str, Any]:
    layers = config.layers_per_block
    blocks = len(config.block_out_channels)
    mapping: list[tuple[str, str]] = [
        ("time_embedding.linear_1.", "time_embed.0."),
        ("time_embedding.linear_2.", "time_embed.2."),
        ("conv_in.", "input_blocks.0.0."),
        ("conv_norm_out.", "out.0."),
        ("conv_out.", "out.2."),
        ("mid_block.resnets.0.", "middle_block.0."),
        ("mid_block.attentions.0.", "middle_block.1."),
        ("mid_block.resnets.1.", "middle_block.2."),
    ]
    for i in range(blocks):
        for j in range(layers):
            ldm = 1 + i * (layers + 1) + j
            mapping.append((f"down_blocks.{i}.resnets.{j}.", f"input_blocks.{ldm}.0."))
            mapping.append((f"down_blocks.{i}.attentions.{j}.", f"input_blocks.{ldm}.1."))
        if i < blocks - 1:
            ldm = 1 + i * (layers + 1) + layers
            mapping.append((f"down_blocks.{i}.downsamplers.0.conv.", f"input_blocks.{ldm}.0.op."))
        for j in range(layers + 1):
            ldm = i * (layers + 1) + j
            mapping.append((f"up_blocks.{i}.resnets.{j}.", f"output_blocks.{ldm}.0."))
            mapping.append((f"up_blocks.{i}.attentions.{j}.", f"output_blocks.{ldm}.1."))
        if i < blocks - 1:
            ldm = i * (layers + 1) + layers
            has_attention = "CrossAttn" in config.up_block_types[i]
            index = 2 if has_attention else 1
            mapping.append((f"up_blocks.{i}.upsamplers.0.", f"output_blocks.{ldm}.{index}."))
    out = {}
    for key, value in state.items():
        new = key
        for prefix, ldm_prefix in mapping:
            if key.startswith(prefix):
                new = ldm_prefix + key[len(prefix) :]
                if ".resnets." in prefix or prefix.startswith("mid_block.resnets"):
                    new = _rename("." + new, [(a, b) for a, b in _RESNET])[1:]
                break
        out[UNET_PREFIX + new] = value
    return out


def vae_to_ldm(state: dict[str, Any], config: Any) -> dict[str, Any]:
    blocks = len(config.block_out_channels)
    out = {}
    for key, value in state.items():
        new = key
        for i in range(blocks):
            new = new.replace(f"encoder.down_blocks.{i}.resnets.", f"encoder.down.{i}.block.")
            new = new.replace(
                f"encoder.down_blocks.{i}.downsamplers.0.", f"encoder.down.{i}.downsample."
            )
            new = new.replace(
                f"decoder.up_blocks.{i}.resnets.", f"decoder.up.{blocks - 1 - i}.block."
            )
            new = new.replace(
                f"decoder.up_blocks.{i}.upsamplers.0.", f"decoder.up.{blocks - 1 - i}.upsample."
            )
        for part in ("encoder", "decoder"):
            new = new.replace(f"{part}.mid_block.resnets.0.", f"{part}.mid.block_1.")
            new = new.replace(f"{part}.mid_block.resnets.1.", f"{part}.mid.block_2.")
            if new.startswith(f"{part}.mid_block.attentions.0."):
                new = f"{part}.mid.attn_1." + new[len(f"{part}.mid_block.attentions.0.") :]
                new = _rename("." + new, _VAE_ATTENTION)[1:]
                if value.dim() == 2:  # linear → 1×1 conv
                    value = value[:, :, None, None]
            new = new.replace(f"{part}.conv_norm_out.", f"{part}.norm_out.")
        new = _rename("." + new, _VAE_RESNET)[1:]
        out[VAE_PREFIX + new] = value
    return out


def save_single_file(pipe: Any, path: Path) -> None:
    from safetensors.torch import save_file

    state: dict[str, Any] = {}
    state.update(unet_to_ldm(pipe.unet.state_dict(), pipe.unet.config))
    state.update(vae_to_ldm(pipe.vae.state_dict(), pipe.vae.config))
    # Original checkpoints nest the text model under `text_model.` (transformers ≥ 5.6 flattened
    # CLIPTextModel's own keys).
    for key, value in pipe.text_encoder.state_dict().items():
        nested = key if key.startswith("text_model.") else "text_model." + key
        state[TEXT_PREFIX + nested] = value
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
