"""Learning a face as a LoRA (FaceChain's recipe on diffusers + peft).

A rank-:data:`RANK` LoRA (alpha :data:`ALPHA`) on the U-Net's attention projections learns
the prepared crops captioned ``"<token>, a person"``: the noise-prediction (or velocity) loss
of the model's own scheduler, AdamW at :data:`LEARNING_RATE` with a cosine decay, random
horizontal flips, about :data:`STEPS_PER_PHOTO` steps per photo. The text encoder and VAE stay
frozen; the crops are encoded once. Training borrows the model's (shared) U-Net: the adapter
is removed afterwards, whatever happens, so every other job renders as before. Cancellable
between steps; the LoRA so far is written every :data:`CHECKPOINT_EVERY` steps.

SD 1.x/2.x-class models only (SDXL's two text encoders and added conditioning: not yet).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from engine.errors import InvalidRequestError, JobCancelledError
from engine.models import Architecture, LoadedModel

__all__ = [
    "ALPHA",
    "LEARNING_RATE",
    "RANK",
    "STEPS_PER_PHOTO",
    "TrainingReport",
    "caption_for",
    "train_face_lora",
]

RANK = 4
ALPHA = 32
LEARNING_RATE = 1.5e-4
STEPS_PER_PHOTO = 200
CHECKPOINT_EVERY = 100
TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
ADAPTER = "portrait_training"


@dataclass(frozen=True, slots=True)
class TrainingReport:
    path: Path
    steps: int
    losses: tuple[float, ...]


def caption_for(token: str) -> str:
    return f"{token}, a person"


def train_face_lora(
    model: LoadedModel,
    crops: Sequence[Image.Image],
    token: str,
    output: Path,
    *,
    steps: int | None = None,
    learning_rate: float = LEARNING_RATE,
    seed: int = 0,
    cancel: threading.Event | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
) -> TrainingReport:
    """Train on ``crops`` and write the LoRA (diffusers' format) to ``output``."""
    import torch

    if model.architecture is not Architecture.SD:
        raise InvalidRequestError("portraits need an SD 1.x/2.x-class model for now")
    if not crops:
        raise InvalidRequestError("portraits need at least one prepared photo")
    total = steps if steps is not None else STEPS_PER_PHOTO * len(crops)
    pipe = model.text2img
    unet = pipe.unet
    generator = torch.Generator("cpu").manual_seed(seed)
    latents = _encode(pipe, crops)
    text = _text_states(pipe, caption_for(token))
    noise_scheduler = _training_scheduler(pipe)
    params = _add_adapter(unet)
    optimiser = torch.optim.AdamW(params, lr=learning_rate)
    losses: list[float] = []
    try:
        unet.train()
        for step in range(total):
            if cancel is not None and cancel.is_set():
                raise JobCancelledError("cancelled while training")
            for group in optimiser.param_groups:
                group["lr"] = learning_rate * 0.5 * (1 + math.cos(math.pi * step / total))
            loss = _loss(unet, noise_scheduler, latents, text, generator)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            losses.append(float(loss.item()))
            if on_step is not None:
                on_step(step + 1, total, losses[-1])
            if (step + 1) % CHECKPOINT_EVERY == 0 and step + 1 < total:
                _save(unet, output.with_name(output.name + ".partial"))
        _save(unet, output)
    finally:
        unet.eval()
        unet.delete_adapters(ADAPTER)
        unet.requires_grad_(False)
    return TrainingReport(output, total, tuple(losses))


def evaluation_loss(model: LoadedModel, crops: Sequence[Image.Image], token: str) -> float:
    """The loss on fixed noise and timesteps (a measurement: lower after training)."""
    import torch

    pipe = model.text2img
    latents = _encode(pipe, crops)
    text = _text_states(pipe, caption_for(token))
    generator = torch.Generator("cpu").manual_seed(1234)
    with torch.no_grad():
        values = [
            float(_loss(pipe.unet, _training_scheduler(pipe), latents, text, generator))
            for _ in range(8)
        ]
    return sum(values) / len(values)


def _add_adapter(unet: Any) -> list[Any]:
    from peft import LoraConfig

    unet.requires_grad_(False)
    config = LoraConfig(
        r=RANK, lora_alpha=ALPHA, init_lora_weights="gaussian", target_modules=list(TARGETS)
    )
    unet.add_adapter(config, adapter_name=ADAPTER)
    unet.set_adapter(ADAPTER)
    params = [p for name, p in unet.named_parameters() if ADAPTER in name]
    for parameter in params:
        parameter.requires_grad_(True)
        parameter.data = parameter.data.float()
    return params


def _loss(unet: Any, scheduler: Any, latents: Any, text: Any, generator: Any) -> Any:
    import torch

    batch = latents.shape[0]
    flips = torch.rand(batch, generator=generator) < 0.5
    clean = torch.where(flips[:, None, None, None], latents.flip(-1), latents)
    noise = torch.randn(clean.shape, generator=generator).to(clean.device, clean.dtype)
    count = scheduler.config.num_train_timesteps
    timesteps = torch.randint(0, count, (batch,), generator=generator).to(clean.device)
    noisy = scheduler.add_noise(clean, noise, timesteps)
    if scheduler.config.prediction_type == "v_prediction":
        target = scheduler.get_velocity(clean, noise, timesteps)
    else:
        target = noise
    states = text.expand(batch, -1, -1)
    predicted = unet(noisy, timesteps, states).sample
    return torch.nn.functional.mse_loss(predicted.float(), target.float())


def _encode(pipe: Any, crops: Sequence[Image.Image]) -> Any:
    import torch

    side = pipe.unet.config.sample_size * pipe.vae_scale_factor
    pixels = torch.cat(
        [pipe.image_processor.preprocess(c.convert("RGB").resize((side, side))) for c in crops]
    )
    vae = pipe.vae
    with torch.no_grad():
        latents = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.mean
    return (latents * vae.config.scaling_factor).float()


def _text_states(pipe: Any, caption: str) -> Any:
    import torch

    ids = pipe.tokenizer(
        caption,
        padding="max_length",
        max_length=pipe.tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids
    with torch.no_grad():
        return pipe.text_encoder(ids.to(pipe.text_encoder.device))[0]


def _training_scheduler(pipe: Any) -> Any:
    from diffusers import DDPMScheduler

    return DDPMScheduler.from_config(pipe.scheduler.config)


def _save(unet: Any, path: Path) -> None:
    from diffusers import StableDiffusionPipeline
    from peft.utils import get_peft_model_state_dict

    path.parent.mkdir(parents=True, exist_ok=True)
    state = get_peft_model_state_dict(unet, adapter_name=ADAPTER)
    partial = path.with_name(path.name + ".writing")
    StableDiffusionPipeline.save_lora_weights(
        partial.parent, unet_lora_layers=state, weight_name=partial.name
    )
    partial.replace(path)
