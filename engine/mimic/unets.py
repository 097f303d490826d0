"""The two U-Nets of MimicBrush: the 13-channel imitative U-Net and the reference U-Net.

* The imitative U-Net is SD 1.5-inpainting's with four more input channels: noisy latent 4 +
  mask 1 + latent of the source with the region painted black 4 + depth feature 4. Its
  cross-attention reads the reference's projected CLIP image features instead of text.
* The reference U-Net is a plain SD 1.5 U-Net run on the reference's clean latent; only the
  self-attention inputs of its mid and up blocks are used. The authors' release therefore
  leaves out the layers after the last self-attention (``REFERENCE_PRUNED``), which never
  influence those inputs.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "IMITATIVE_CHANNELS",
    "INPAINT_CHANNELS",
    "extend_conv_in",
    "reference_pruned_keys",
]

INPAINT_CHANNELS = 9
IMITATIVE_CHANNELS = 13


def extend_conv_in(unet: Any, in_channels: int = IMITATIVE_CHANNELS) -> Any:
    """A copy of the inpainting ``unet`` taking ``in_channels`` inputs.

    Every weight is copied; ``conv_in`` keeps its first channels and the new ones start at
    zero, so before training the extended U-Net computes exactly what the original does.
    """
    import torch
    from diffusers import UNet2DConditionModel

    old = int(unet.config.in_channels)
    if in_channels <= old:
        raise ValueError(f"in_channels must exceed the U-Net's {old}, got {in_channels}")
    config = dict(unet.config)
    config["in_channels"] = in_channels
    extended = UNet2DConditionModel.from_config(config).to(device=unet.device, dtype=unet.dtype)
    state = unet.state_dict()
    weight = state["conv_in.weight"]
    wider = torch.zeros(
        (weight.shape[0], in_channels, *weight.shape[2:]), dtype=weight.dtype, device=weight.device
    )
    wider[:, :old] = weight
    state["conv_in.weight"] = wider
    extended.load_state_dict(state, strict=True)
    return extended


def reference_pruned_keys(unet: Any) -> frozenset[str]:
    """The state-dict keys of a reference U-Net that the authors' checkpoint does not hold.

    Their ReferenceNet replaces the output head (``conv_norm_out``, ``conv_out``) and the
    tail of the last up block's last transformer block (everything after ``norm1``, and the
    transformer's ``proj_out``) by identities: the stored self-attention inputs come before.
    """
    names = list(unet.state_dict())
    last_up = len(unet.up_blocks) - 1
    attentions = getattr(unet.up_blocks[last_up], "attentions", None)
    prefixes = ["conv_norm_out.", "conv_out."]
    if attentions:
        tail = f"up_blocks.{last_up}.attentions.{len(attentions) - 1}."
        block = tail + "transformer_blocks.0."
        prefixes += [
            block + "attn1.",
            block + "norm2.",
            block + "attn2.",
            block + "norm3.",
            block + "ff.",
            tail + "proj_out.",
        ]
    return frozenset(n for n in names if n.startswith(tuple(prefixes)))
