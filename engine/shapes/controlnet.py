"""Train the built-in shapes model's edge ControlNet: Retexture on the default model.

The ControlNet starts as a copy of the trained shapes U-Net's encoder (``from_unet``: zero
output convolutions, so step 0 changes nothing) and learns, with the U-Net and text encoder
frozen, to follow the Canny edges (``engine.structure.maps.edge_map``) of freshly rendered
training scenes whose objects are moved and resized far beyond the model's own training
(:data:`SHIFT`, :data:`RADII`) while the caption decides colours — the velocity loss of the
shapes model's own scheduler. A fifth of the captions are empty (classifier-free guidance)
and attributes are dropped as in the model's training, so the edges alone carry the layout.

Checkpoints (ControlNet, optimiser, step) go to ``--run`` (an ignored folder) every few
minutes; a later run resumes. ``--export`` writes the ControlNet in diffusers' layout, which the
engine uses for ``edges`` on ``builtin:shapes`` without any setting
(``engine/controlnets.py``).

Run: ``python -m engine.shapes.controlnet --run runs/shapes-controlnet --steps 3000
--export engine/builtin_models/shapes/controlnet-edges``
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "train_controlnet"]

log = logging.getLogger(__name__)

CONDITIONING_CHANNELS = (16, 32, 64)
"""Three levels: the shapes VAE downsamples 4× (64² images, 16² latents)."""
SHIFT = 12
"""Objects move up to this many pixels from their named place, and their radius ranges over
:data:`RADII` — far wider than the model's own training (±1 px, 10 ± 1): where an object is
and how big, the edges say; the caption only names it roughly."""
RADII = (6.0, 16.0)


def _scattered(scene: Any, rng: random.Random) -> Any:
    """``scene`` with its objects moved and resized (the ControlNet's training geometry)."""
    from dataclasses import replace

    jitter = tuple(
        (rng.randint(-SHIFT, SHIFT), rng.randint(-SHIFT, SHIFT), rng.uniform(*RADII))
        for _ in scene.objects
    )
    return replace(scene, jitter=jitter)


def _conditions(images: Sequence[Any]) -> Any:
    import torch

    from engine.structure.maps import edge_map

    maps = np.stack([np.asarray(edge_map(image), dtype=np.float32) / 255 for image in images])
    return torch.from_numpy(maps).permute(0, 3, 1, 2)


def train_controlnet(
    run: Path,
    steps: int,
    *,
    batch: int = 32,
    learning_rate: float = 2e-4,
    unconditional: float = 0.2,
    drop: float = 0.1,
    checkpoint_minutes: float = 5.0,
    seed: int = 0,
) -> Any:
    """Train (or resume) to ``steps``; returns the ControlNet."""
    import torch
    from diffusers import ControlNetModel, DDPMScheduler

    from engine.models import SHAPES_SOURCE, load_model
    from engine.shapes.data import captions_for, image_batch
    from engine.shapes.world import render, sample_scene

    model = load_model(SHAPES_SOURCE, device="cpu", dtype=torch.float32, cache_dir=run / "models")
    pipe = model.text2img
    unet, vae, text_encoder, tokenizer = pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer
    for part in (unet, vae, text_encoder):
        part.requires_grad_(False).eval()
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    torch.manual_seed(seed)
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=CONDITIONING_CHANNELS)
    net.train()
    optimiser = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=1e-2)
    step = 0
    checkpoint = run / "latest.pt"
    if checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=False)
        net.load_state_dict(saved["net"])
        optimiser.load_state_dict(saved["optimiser"])
        step = int(saved["step"])
        log.info("resumed at step %d", step)
    run.mkdir(parents=True, exist_ok=True)
    scaling = vae.config.scaling_factor
    last_save = time.monotonic()
    losses: list[float] = []
    started = time.monotonic()
    while step < steps:
        rng = random.Random(f"{seed}-controlnet-{step}")
        torch.manual_seed(rng.getrandbits(63))
        scenes = [_scattered(sample_scene(rng, "train", 0.5), rng) for _ in range(batch)]
        with torch.no_grad():
            latents = vae.encode(image_batch(scenes)).latent_dist.mean * scaling
            texts = captions_for(scenes, rng, drop, unconditional)
            ids = tokenizer(
                texts, padding="max_length", max_length=tokenizer.model_max_length,
                truncation=True, return_tensors="pt",
            ).input_ids  # fmt: skip
            states = text_encoder(ids)[0]
        condition = _conditions([render(scene) for scene in scenes])
        noise = torch.randn_like(latents)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch,))
        noisy = scheduler.add_noise(latents, noise, t)
        target = scheduler.get_velocity(latents, noise, t)
        down, mid = net(
            noisy, t, encoder_hidden_states=states, controlnet_cond=condition, return_dict=False
        )
        predicted = unet(
            noisy, t, states,
            down_block_additional_residuals=down, mid_block_additional_residual=mid,
        ).sample  # fmt: skip
        loss = torch.nn.functional.mse_loss(predicted, target)
        for group in optimiser.param_groups:  # a short warm-up, then constant
            group["lr"] = learning_rate * min(1.0, (step + 1) / 200)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimiser.step()
        losses.append(float(loss.item()))
        step += 1
        if step % 50 == 0:
            rate = (time.monotonic() - started) / len(losses)
            log.info("step %d/%d loss %.4f (%.2f s/step)", step, steps, np.mean(losses[-50:]), rate)
        if time.monotonic() - last_save > checkpoint_minutes * 60 or step == steps:
            _save(checkpoint, net, optimiser, step)
            last_save = time.monotonic()
    return net.eval()


def _save(path: Path, net: Any, optimiser: Any, step: int) -> None:
    import torch

    partial = path.with_suffix(".partial")
    torch.save(
        {"net": net.state_dict(), "optimiser": optimiser.state_dict(), "step": step}, partial
    )
    partial.replace(path)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/shapes-controlnet"))
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--export", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    net = train_controlnet(args.run, args.steps, batch=args.batch, learning_rate=args.lr)
    if args.export is not None:  # float16, like the rest of the shipped model
        import torch

        net.to(torch.float16).save_pretrained(args.export, safe_serialization=True)
        log.info("exported to %s", args.export)


if __name__ == "__main__":
    main()
