"""The ``builtin:shapes`` architecture: diffusers/transformers components of a small
Stable Diffusion 1.x-class model for 64² images, and their assembly into a pipeline.

* VAE: ``AutoencoderKL`` with 3 blocks (f=4), so a 64² image is a 16×16×4 latent.
* UNet: ``UNet2DConditionModel`` (32, 64, 128) with cross-attention at 16² and 8².
* Text encoder: a 3-layer, 128-wide, 4-head ``CLIPTextModel`` over the word-level vocabulary.
* Scheduler: DDPM-trained, scaled-linear betas 0.00085–0.02 (more noise at the end than SD's
  0.012: small latents keep too much signal otherwise, and the background colour would leak
  from the starting noise), v-prediction (sound targets at high noise, where epsilon
  prediction says little about the image).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.shapes.vocab import MAX_LENGTH, write_tokenizer
from engine.shapes.world import IMAGE_SIZE

__all__ = [
    "LATENT_CHANNELS",
    "LATENT_SIZE",
    "SCHEDULER_CONFIG",
    "assemble_pipeline",
    "build_scheduler",
    "build_text_encoder",
    "build_tokenizer",
    "build_unet",
    "build_vae",
]

VAE_FACTOR = 4
LATENT_SIZE = IMAGE_SIZE // VAE_FACTOR
LATENT_CHANNELS = 4
SCHEDULER_CONFIG: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.02,
    "beta_schedule": "scaled_linear",
    "prediction_type": "v_prediction",
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "clip_sample": False,
}
TEXT_WIDTH = 128


def build_vae() -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(32, 64, 128),
        layers_per_block=1,
        latent_channels=LATENT_CHANNELS,
        norm_num_groups=16,
        sample_size=IMAGE_SIZE,
        mid_block_add_attention=False,
    )


def build_unet() -> Any:
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=LATENT_SIZE,
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        block_out_channels=(32, 64, 128),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=(2, 4, 4),
        cross_attention_dim=TEXT_WIDTH,
        norm_num_groups=16,
    )


def build_text_encoder(vocab_size: int, bos: int, eos: int) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=TEXT_WIDTH,
        intermediate_size=4 * TEXT_WIDTH,
        num_attention_heads=4,
        num_hidden_layers=3,
        max_position_embeddings=MAX_LENGTH,
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=eos,
        hidden_act="gelu",
    )
    return CLIPTextModel(config)


def build_tokenizer(folder: Path) -> Any:
    """Write the tokenizer files to ``folder`` and load them as a ``CLIPTokenizer``."""
    from transformers import CLIPTokenizer

    write_tokenizer(folder)
    return CLIPTokenizer.from_pretrained(folder, local_files_only=True)


def build_scheduler() -> Any:
    from diffusers import DDPMScheduler

    return DDPMScheduler(**SCHEDULER_CONFIG)


def assemble_pipeline(vae: Any, unet: Any, text_encoder: Any, tokenizer: Any) -> Any:
    """A ``StableDiffusionPipeline`` of the components (no safety checker)."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    # DDIM as the saved default: a deterministic sampler that exists in every diffusers;
    # the engine replaces it with its own (DPM++ by default) from the same config.
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DDIMScheduler(**SCHEDULER_CONFIG, set_alpha_to_one=False),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
