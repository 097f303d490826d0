"""The MimicBrush model bundle and random-weight builds of it (``builtin:mimic`` and full size).

``builtin:mimic`` is every component at toy size, built in code in about a second,
deterministically (fixed seeds): its images are noise, but every path (reference attention,
depth, guidance, blending) runs. ``full_size`` builds the real architectures (SD 1.5 U-Nets,
the SD VAE, CLIP ViT-H/14, Depth Anything ViT-B/14) with random weights for benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.mimic.attention import ReferenceLink, link_reference_attention
from engine.mimic.depth import GUIDER_CHANNELS, build_depth_guider
from engine.mimic.unets import IMITATIVE_CHANNELS, INPAINT_CHANNELS, extend_conv_in

__all__ = ["BUILTIN_MIMIC", "MimicModel", "assemble", "builtin_mimic_model", "full_size_model"]

BUILTIN_MIMIC = "builtin:mimic"


@dataclass(eq=False)
class MimicModel:
    """Everything :func:`engine.mimic.mimic` needs, on one device and dtype."""

    vae: Any
    imitative_unet: Any
    """13 input channels; its self-attention carries the readers."""
    reference_unet: Any
    """4 input channels; its self-attention carries the writers."""
    image_encoder: Any
    """``CLIPVisionModelWithProjection``; its penultimate hidden states are used."""
    image_projection: Any
    """``nn.ModuleDict`` with ``projector``: CLIP hidden size → cross-attention size."""
    depth_model: Any
    """``DepthAnythingForDepthEstimation``."""
    depth_guider: Any
    link: ReferenceLink
    side: int = 512
    """Working resolution: inputs are padded square and resized to ``side``²."""
    depth_side: int = 518
    """Depth Anything's input side (a multiple of its 14-pixel patch)."""
    source: str = field(default=BUILTIN_MIMIC)

    @property
    def device(self) -> Any:
        return self.imitative_unet.device

    @property
    def dtype(self) -> Any:
        return self.imitative_unet.dtype

    @property
    def clip_side(self) -> int:
        return int(self.image_encoder.config.image_size)


def assemble(
    *,
    vae: Any,
    imitative_unet: Any,
    reference_unet: Any,
    image_encoder: Any,
    image_projection: Any,
    depth_model: Any,
    depth_guider: Any,
    side: int,
    depth_side: int,
    source: str,
    device: str,
    dtype: Any,
) -> MimicModel:
    """Move the parts to ``device``/``dtype`` in eval mode and link the two U-Nets."""
    parts = (vae, imitative_unet, reference_unet, image_encoder, image_projection)
    for part in (*parts, depth_model, depth_guider):
        part.to(device=device).eval().requires_grad_(False)
        if next(part.parameters()).dtype != dtype:  # diffusers warns on every dtype cast
            part.to(dtype=dtype)
    link = link_reference_attention(reference_unet, imitative_unet)
    return MimicModel(
        vae=vae,
        imitative_unet=imitative_unet,
        reference_unet=reference_unet,
        image_encoder=image_encoder,
        image_projection=image_projection,
        depth_model=depth_model,
        depth_guider=depth_guider,
        link=link,
        side=side,
        depth_side=depth_side,
        source=source,
    )


def builtin_mimic_model(device: str = "cpu", dtype: Any = None) -> MimicModel:
    """``builtin:mimic``: all components tiny and random, the same weights on every call."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from torch import nn
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    unet_config: dict[str, Any] = {
        "block_out_channels": (8, 16),
        "layers_per_block": 1,
        "sample_size": 8,
        "out_channels": 4,
        "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
        "cross_attention_dim": 8,
        "attention_head_dim": 2,
        "norm_num_groups": 2,
    }
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=[4, 4, 8, 8],
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        latent_channels=4,
        norm_num_groups=2,
        sample_size=64,
    )
    torch.manual_seed(1)
    inpaint = UNet2DConditionModel(in_channels=INPAINT_CHANNELS, **unet_config)
    imitative = extend_conv_in(inpaint, IMITATIVE_CHANNELS)
    with torch.no_grad():  # trained weights use the depth channels; random zeros would not
        imitative.conv_in.weight[:, INPAINT_CHANNELS:].normal_(0.0, 0.2)
    torch.manual_seed(2)
    reference = UNet2DConditionModel(in_channels=4, **unet_config)
    torch.manual_seed(3)
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            image_size=32,
            patch_size=4,
        )
    )
    torch.manual_seed(4)
    projection = nn.ModuleDict({"projector": nn.Linear(32, 8)})
    torch.manual_seed(5)
    depth_model = _tiny_depth_model()
    torch.manual_seed(6)
    guider = build_depth_guider((4, 8, 8, 8))
    with torch.no_grad():  # torch's default init shrinks the signal ~10× per conv here
        for conv in guider.modules():
            if isinstance(conv, nn.Conv2d):
                nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
                conv.bias.zero_()
    return assemble(
        vae=vae,
        imitative_unet=imitative,
        reference_unet=reference,
        image_encoder=encoder,
        image_projection=projection,
        depth_model=depth_model,
        depth_guider=guider,
        side=64,
        depth_side=28,
        source=BUILTIN_MIMIC,
        device=device,
        dtype=dtype or torch.float32,
    )


def _tiny_depth_model() -> Any:
    from engine.tiny_depth import tiny_depth_model

    return tiny_depth_model(28)


def full_size_model(device: str, dtype: Any) -> MimicModel:
    """The real architectures with random weights (for benchmarks; no download)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from torch import nn
    from transformers import (
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
        DepthAnythingConfig,
        DepthAnythingForDepthEstimation,
        Dinov2Config,
    )

    sd15: dict[str, Any] = {"cross_attention_dim": 768, "sample_size": 64, "attention_head_dim": 8}
    vae = AutoencoderKL(
        block_out_channels=[128, 256, 512, 512],
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=512,
    )
    imitative = UNet2DConditionModel(in_channels=IMITATIVE_CHANNELS, **sd15)
    reference = UNet2DConditionModel(in_channels=4, **sd15)
    encoder = CLIPVisionModelWithProjection(  # ViT-H/14, as in IP-Adapter's image_encoder
        CLIPVisionConfig(
            hidden_size=1280,
            intermediate_size=5120,
            num_attention_heads=16,
            num_hidden_layers=32,
            patch_size=14,
            image_size=224,
            projection_dim=1024,
            hidden_act="gelu",
        )
    )
    backbone = Dinov2Config(  # ViT-B/14
        image_size=518,
        patch_size=14,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        out_indices=[3, 6, 9, 12],
        reshape_hidden_states=False,
    )
    depth_model = DepthAnythingForDepthEstimation(
        DepthAnythingConfig(
            backbone_config=backbone,
            reassemble_hidden_size=768,
            neck_hidden_sizes=[96, 192, 384, 768],
            fusion_hidden_size=128,
        )
    )
    return assemble(
        vae=vae,
        imitative_unet=imitative,
        reference_unet=reference,
        image_encoder=encoder,
        image_projection=nn.ModuleDict({"projector": nn.Linear(1280, 768)}),
        depth_model=depth_model,
        depth_guider=build_depth_guider(GUIDER_CHANNELS),
        side=512,
        depth_side=518,
        source="random:full-size",
        device=device,
        dtype=dtype,
    )
