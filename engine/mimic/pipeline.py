"""``mimic``: repaint a masked region of a source image so that it imitates a reference image.

Input preparation follows the authors' demo (``run_gradio3_demo.py``):

* the source and the reference are padded to squares with white, the mask with black
  (centred along the short side), then resized to the model's working side (512);
* the masked source is the padded source with the region painted black; depth is estimated on
  the padded source *without* the mask (keep shape), or on an all-zero image (keep shape off);
* DDIM (their scheduler settings), classifier-free guidance on the image features: the
  unconditional branch encodes an all-zero image;
* the result is resized back to the padded square, the padding cropped away, and it is pasted
  into the source through the mask with a feathered inner edge (:func:`engine.canvas.keep_outside`,
  radius ``FEATHER_RADIUS`` ≈ the authors' 10 × 3×3 Gaussian blur), so every pixel outside the
  mask is the source's, exactly. (The authors' blur also spreads a little outwards.)

Deviation: latents of the source and the reference are the VAE posterior's mean, not a sample
(deterministic; the difference is the VAE's tiny posterior noise).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from engine.canvas import keep_outside
from engine.errors import InvalidRequestError, JobCancelledError
from engine.mimic.depth import depth_feature, depth_pixels
from engine.mimic.model import MimicModel
from engine.request import Progress

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "DEFAULT_GUIDANCE",
    "DEFAULT_STEPS",
    "FEATHER_RADIUS",
    "check_mimic",
    "image_features",
    "mimic",
    "pad_to_square",
    "predict_noise",
]

DEFAULT_STEPS = 50
DEFAULT_GUIDANCE = 5.0
FEATHER_RADIUS = 2.5
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_SEEDS = 4


def pad_to_square(image: Image.Image, fill: str) -> tuple[Image.Image, tuple[int, int]]:
    """``image`` centred on a square of ``fill``, and where its top-left corner went."""
    width, height = image.size
    side = max(width, height)
    offset = ((side - width) // 2, (side - height) // 2)
    square = Image.new(image.mode, (side, side), fill)
    square.paste(image, offset)
    return square, offset


def check_mimic(
    source: Image.Image, mask: Image.Image, seeds: Sequence[int], steps: int, guidance: float
) -> Image.Image:
    """Raise :class:`InvalidRequestError` for inputs that cannot be rendered; the binary mask."""
    if mask.size != source.size:
        raise InvalidRequestError(
            f"the mask is {mask.width}×{mask.height} but the image is "
            f"{source.width}×{source.height}; the mask must be the image's size"
        )
    if not 1 <= len(seeds) <= MAX_SEEDS:
        raise InvalidRequestError(f"1 to {MAX_SEEDS} seeds, got {len(seeds)}")
    if steps < 1:
        raise InvalidRequestError(f"steps must be at least 1, got {steps}")
    if guidance < 1:
        raise InvalidRequestError(f"guidance must be at least 1, got {guidance}")
    binary = mask.convert("L").point(lambda v: 255 if v > 128 else 0)
    if binary.getbbox() is None:
        raise InvalidRequestError("the mask is empty: paint the region to repaint in white")
    return binary


def mimic(
    model: MimicModel,
    source: Image.Image,
    mask: Image.Image,
    reference: Image.Image,
    *,
    keep_shape: bool = False,
    seeds: Sequence[int] = (0,),
    steps: int = DEFAULT_STEPS,
    guidance: float = DEFAULT_GUIDANCE,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> list[Image.Image]:
    """One image per seed, each at the source's size, the source kept outside the mask."""
    import torch
    from diffusers import DDIMScheduler

    # 1. Check inputs and pad them square as the authors do.
    binary = check_mimic(source, mask, seeds, steps, guidance)
    source_rgb = source.convert("RGB")
    square_source, offset = pad_to_square(source_rgb, "white")
    square_mask, _ = pad_to_square(binary, "black")
    square_reference, _ = pad_to_square(reference.convert("RGB"), "white")
    side, count = model.side, len(seeds)
    device, dtype = model.device, model.dtype

    with torch.inference_mode():
        # 2. Encode the reference: CLIP features (cond, uncond) and its clean latent.
        cond, uncond = image_features(model, square_reference)
        reference_latent = _latent(model, square_reference)
        # 3. Encode the source: mask, masked-source latent, depth feature.
        small_mask = square_mask.resize((side, side), Image.Resampling.BILINEAR)
        mask_pixels = torch.from_numpy(np.asarray(small_mask, np.float32) / 255.0 >= 0.5)
        masked = Image.composite(
            Image.new("RGB", square_source.size, "black"), square_source, square_mask
        )
        masked_latent = _latent(model, masked)
        latent_side = masked_latent.shape[-1]
        mask_latent = torch.nn.functional.interpolate(
            mask_pixels[None, None].to(device=device, dtype=dtype), size=(latent_side,) * 2
        )
        pixels = depth_pixels(square_source, model.depth_side, keep_shape=keep_shape)
        depth = depth_feature(
            model.depth_model, model.depth_guider, pixels.to(device=device, dtype=dtype), side
        )
        conditions = torch.cat([mask_latent, masked_latent, depth], dim=1).repeat(
            2 * count, 1, 1, 1
        )
        embeds = torch.cat([uncond.repeat(count, 1, 1), cond.repeat(count, 1, 1)])

        # 4. Prepare the noise: one generator per seed, so image k alone equals result[k].
        scheduler = _scheduler(DDIMScheduler)
        scheduler.set_timesteps(steps, device=device)
        shape = (1, masked_latent.shape[1], latent_side, latent_side)
        latents = torch.cat(
            [torch.randn(shape, generator=torch.Generator("cpu").manual_seed(s)) for s in seeds]
        ).to(device=device, dtype=dtype)
        latents = latents * scheduler.init_noise_sigma

        # 5. Denoise with guidance; the reference U-Net runs at every step's timestep.
        for index, timestep in enumerate(scheduler.timesteps):
            if cancel is not None and cancel.is_set():
                raise JobCancelledError("the edit was cancelled")
            noisy = scheduler.scale_model_input(torch.cat([latents, latents]), timestep)
            noise = predict_noise(
                model, torch.cat([noisy, conditions], 1), timestep, embeds, reference_latent, cond
            )
            noise_uncond, noise_cond = noise.chunk(2)
            guided = noise_uncond + guidance * (noise_cond - noise_uncond)
            latents = scheduler.step(guided, timestep, latents).prev_sample
            if on_progress is not None:
                on_progress(Progress(index + 1, steps))
        model.link.clear()

        # 6. Decode, undo the padding and blend into the source.
        decoded = model.vae.decode(latents / model.vae.config.scaling_factor).sample
    return [_finish(image, source_rgb, binary, offset) for image in decoded]


def image_features(model: MimicModel, reference: Image.Image) -> tuple[Any, Any]:
    """Projected CLIP features of ``reference`` and of an all-zero image: (1, tokens, dim) each.

    The image is resized to the encoder's side (the authors' processor resizes the short side
    and centre-crops; the reference is already square, so that is a plain resize).
    """
    import torch

    clip_side = model.clip_side
    resized = reference.resize((clip_side, clip_side), Image.Resampling.BICUBIC)
    unit = np.asarray(resized, np.float32) / 255.0
    pixels = (unit - np.array(CLIP_MEAN, np.float32)) / np.array(CLIP_STD, np.float32)
    tensor = (
        torch.from_numpy(pixels.astype(np.float32))
        .permute(2, 0, 1)[None]
        .to(model.device, model.dtype)
    )
    both = torch.cat([tensor, torch.zeros_like(tensor)])
    hidden = model.image_encoder(pixel_values=both, output_hidden_states=True).hidden_states[-2]
    projected = model.image_projection["projector"](hidden)
    return projected[:1], projected[1:]


def predict_noise(
    model: MimicModel, model_input: Any, timestep: Any, embeds: Any, reference: Any, cond: Any
) -> Any:
    """One guided U-Net evaluation: the reference U-Net fills the bank, the imitative U-Net
    reads it. ``model_input`` is [uncond half; cond half] with 13 channels."""
    model.link.clear()
    model.reference_unet(reference, timestep, encoder_hidden_states=cond, return_dict=False)
    return model.imitative_unet(
        model_input, timestep, encoder_hidden_states=embeds, return_dict=False
    )[0]


def _latent(model: MimicModel, image: Image.Image) -> Any:
    import torch

    resized = image.convert("RGB").resize((model.side, model.side), Image.Resampling.BICUBIC)
    pixels = torch.from_numpy(np.asarray(resized, np.float32) / 127.5 - 1.0)
    tensor = pixels.permute(2, 0, 1)[None].to(model.device, model.dtype)
    posterior = model.vae.encode(tensor).latent_dist
    return posterior.mean * model.vae.config.scaling_factor


def _scheduler(scheduler_class: Any) -> Any:
    """The authors' DDIM settings (SD 1.5's betas)."""
    return scheduler_class(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def _finish(
    decoded: Any, source: Image.Image, mask: Image.Image, offset: tuple[int, int]
) -> Image.Image:
    array = ((decoded.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0)
    square_side = max(source.size)
    square = Image.fromarray(array.cpu().numpy()).resize(
        (square_side, square_side), Image.Resampling.BICUBIC
    )
    left, top = offset
    generated = square.crop((left, top, left + source.width, top + source.height))
    return keep_outside(source, generated, mask, FEATHER_RADIUS)
