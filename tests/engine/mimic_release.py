"""Write a tiny MimicBrush release folder in the authors' layout and key names (for tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.mimic import MimicModel
from engine.mimic.unets import INPAINT_CHANNELS, reference_pruned_keys
from engine.mimic.weights import CHECKPOINT


def write_release(model: MimicModel, root: Path) -> dict[str, dict[str, Any]]:
    """``model``'s weights as ``mimicbrush.bin`` plus the base configs, VAE and depth model;
    returns the checkpoint's sections (to edit and re-save in tests)."""
    import torch

    encoder = model.image_encoder
    positions = (encoder.config.image_size // encoder.config.patch_size) ** 2 + 1
    pruned = reference_pruned_keys(model.reference_unet)
    sections = {
        "image_proj": dict(model.image_projection.state_dict()),
        "depth_guider": dict(model.depth_guider.state_dict()),
        "referencenet": {
            k: v for k, v in model.reference_unet.state_dict().items() if k not in pruned
        },
        "image_encoder": {
            **encoder.state_dict(),
            # transformers 4.25 (the authors' pin) saved this buffer
            "vision_model.embeddings.position_ids": torch.arange(positions)[None],
        },
        "unet": dict(model.imitative_unet.state_dict()),
    }
    save_sections(sections, root)
    encoder.config.save_pretrained(root / "image_encoder")
    model.reference_unet.save_config(root / "stable-diffusion-v1-5" / "unet")
    inpaint = root / "stable-diffusion-inpainting" / "unet"
    model.imitative_unet.save_config(inpaint)
    config = json.loads((inpaint / "config.json").read_text())
    config["in_channels"] = INPAINT_CHANNELS  # the base is the 9-channel inpainting U-Net
    (inpaint / "config.json").write_text(json.dumps(config))
    model.vae.save_pretrained(root / "stable-diffusion-inpainting" / "vae")
    model.depth_model.save_pretrained(root / "depth_model")
    return sections


def save_sections(sections: dict[str, dict[str, Any]], root: Path) -> None:
    import torch

    (root / CHECKPOINT).parent.mkdir(parents=True, exist_ok=True)
    torch.save(sections, root / CHECKPOINT)
