"""A tiny random Depth Anything, built in code (no download): the depth model of the built-in
MimicBrush and of Retexture's ``builtin:tiny`` depth — for tests, not for looks."""

from __future__ import annotations

from typing import Any

__all__ = ["tiny_depth_model"]


def tiny_depth_model(image_size: int) -> Any:
    """``DepthAnythingForDepthEstimation`` with a 2-layer, 16-wide DINOv2 backbone for
    ``image_size``² inputs (a multiple of its 14-px patches), its weights drawn from torch's
    current random state."""
    import torch
    from torch import nn
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    backbone = Dinov2Config(
        image_size=image_size,
        patch_size=14,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        out_features=["stage1", "stage2"],
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        reassemble_hidden_size=16,
        reassemble_factors=[2, 1],
        neck_hidden_sizes=[8, 16],
        fusion_hidden_size=8,
        head_hidden_size=8,
        patch_size=14,
    )
    model = DepthAnythingForDepthEstimation(config)
    # transformers initialises convs with std 0.02: the random depth would be ~1e-8
    # everywhere; torch's default init makes it vary visibly with the image
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            module.reset_parameters()
    with torch.no_grad():
        model.head.conv3.bias.fill_(1.0)  # keep the head's final ReLU from zeroing it all
    return model
