"""Train ``builtin:shapes``: ``python -m engine.shapes.train --run DIR`` (re-run to resume).

Two stages, one command:

1. ``vae``: the f=4 autoencoder on rendered scenes (L1 plus an L1 on image gradients, so edges
   stay sharp; a small KL term keeps the latents tame; the decoder reads slightly noised
   posterior means).
2. ``unet``: the UNet and the text encoder jointly on pooled latents (v-prediction, min-SNR-5
   weighting, attribute and caption dropout for partial prompts and guidance, EMA weights,
   warm-up then cosine learning rate); every ``decoder_every`` steps the VAE decoder alone is
   fine-tuned on slightly noised latents, so it draws sharp shapes from imperfect latents
   (the encoder is frozen, so the UNet's latents never move).

Everything is seeded by ``--seed`` and the step, checkpoints go to ``DIR/latest.pt`` every few
minutes (and on SIGTERM/SIGINT), progress with ETA to ``DIR/train.log``, held-out judge scores
to ``DIR/eval.jsonl`` with an EMA snapshot per evaluation in ``DIR/snapshots/``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import math
import os
import random
import signal
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from engine.shapes.data import LatentPool, captions_for, image_batch
from engine.shapes.evaluate import evaluate
from engine.shapes.state import TrainConfig, TrainState, load_state, save_snapshot, save_state

__all__ = ["main", "train"]

log = logging.getLogger("engine.shapes.train")


def _rng(config: TrainConfig, *parts: object) -> random.Random:
    return random.Random("/".join(str(p) for p in (config.seed, *parts)))


def _autocast() -> Any:
    import torch

    # bf16 makes the convolution-heavy VAE ~2× faster on CPU (it slows the UNet, which stays fp32).
    return torch.autocast("cpu", dtype=torch.bfloat16)


def _vae_loss(state: TrainState, images: Any, *, frozen_encoder: bool = False) -> Any:
    """Reconstruction (L1 + L1 of horizontal and vertical differences) + weighted KL.

    The decoder sees the posterior *mean* plus a little noise, not a posterior sample: the
    diffusion model works on means, and decoding samples (whose spread only a long training
    shrinks) taught the decoder to blur. The noise makes it robust to imperfect latents."""
    import torch

    vae = state.vae
    with _autocast():
        with torch.no_grad() if frozen_encoder else contextlib.nullcontext():
            posterior = vae.encode(images).latent_dist
        mean = posterior.mean
        noise = state.config.decoder_noise * mean.detach().std() * torch.randn_like(mean)
        kl = torch.zeros(()) if frozen_encoder else posterior.kl().float().mean()
        decoded = vae.decode(mean + noise).sample.float()
    l1 = (decoded - images).abs().mean()
    edges = (decoded.diff(dim=-1) - images.diff(dim=-1)).abs().mean() + (
        decoded.diff(dim=-2) - images.diff(dim=-2)
    ).abs().mean()
    return l1 + state.config.edge_weight * edges + state.config.kl_weight * kl


def _learning_rate(config: TrainConfig, step: int) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, config.unet_steps - config.warmup))
    floor = config.lr * config.lr_floor
    return floor + (config.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class _Progress:
    """Log lines with rate and ETA every ``every`` steps."""

    def __init__(self, stage: str, start: int, total: int, batch: int, every: int = 50) -> None:
        self.stage, self.start, self.total, self.batch, self.every = (
            stage,
            start,
            total,
            batch,
            every,
        )
        self.started = time.monotonic()
        self.losses: list[float] = []

    def update(self, step: int, loss: float, extra: str = "") -> None:
        self.losses.append(loss)
        if (step + 1) % self.every and step + 1 != self.total:
            return
        elapsed = time.monotonic() - self.started
        done = step + 1 - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - step - 1) / rate if rate > 0 else float("inf")
        filled = round(20 * (step + 1) / self.total)
        log.info(
            "%s [%s] %d/%d (%.1f%%) loss %.4f | %.2f steps/s, %.0f samples/s | ETA %s %s",
            self.stage,
            "#" * filled + "-" * (20 - filled),
            step + 1,
            self.total,
            100 * (step + 1) / self.total,
            sum(self.losses) / len(self.losses),
            rate,
            rate * self.batch,
            _hms(eta),
            extra,
        )
        self.losses.clear()


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


def _train_vae(state: TrainState, should_stop: Any) -> None:
    import torch

    config = state.config
    progress = _Progress("vae", state.vae_step, config.vae_steps, config.vae_batch)
    optimiser = state.vae_optimiser
    last_save = time.monotonic()
    while state.vae_step < config.vae_steps and not should_stop():
        step = state.vae_step
        started = time.monotonic()
        rng = _rng(config, "vae", step)
        torch.manual_seed(rng.getrandbits(63))
        images = image_batch(_scenes(rng, config.vae_batch))
        loss = _vae_loss(state, images)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(state.vae.parameters(), 1.0)
        optimiser.step()
        state.vae_step += 1
        state.seconds["vae"] = state.seconds.get("vae", 0.0) + time.monotonic() - started
        progress.update(step, loss.item())
        if time.monotonic() - last_save > config.checkpoint_minutes * 60:
            save_state(state)
            last_save = time.monotonic()


def _scenes(rng: random.Random, count: int) -> list[Any]:
    from engine.shapes.world import sample_scene

    return [sample_scene(rng, "train") for _ in range(count)]


def _encoder(state: TrainState) -> Any:
    import torch

    def encode(images: Any) -> Any:
        with torch.no_grad(), _autocast():
            mean = state.vae.encode(images).latent_dist.mean
        return mean.float() * state.vae.config.scaling_factor

    return encode


def _set_scaling_factor(state: TrainState) -> None:
    import torch

    if state.scaling_factor is None:
        rng = _rng(state.config, "scale")
        encode = _encoder(state)
        state.vae.register_to_config(scaling_factor=1.0)
        with torch.no_grad():
            latents = torch.cat([encode(image_batch(_scenes(rng, 128))) for _ in range(8)])
        state.scaling_factor = float(1.0 / latents.std())
        log.info("latent std %.4f → scaling factor %.4f", latents.std(), state.scaling_factor)
    state.vae.register_to_config(scaling_factor=state.scaling_factor)


def _train_unet(state: TrainState, should_stop: Any) -> None:
    import torch

    config = state.config
    _set_scaling_factor(state)
    state.vae.requires_grad_(False)
    state.vae.decoder.requires_grad_(True)
    log.info("filling the latent pool (%d scenes)", config.pool_size)
    pool_rng = _rng(config, "pool", state.unet_step)
    pool = LatentPool(_encoder(state), config.pool_size, pool_rng, two_objects=config.two_objects)
    scheduler = state.noise_scheduler
    alphas = scheduler.alphas_cumprod
    snr = alphas / (1 - alphas)
    weights = torch.clamp(snr, max=config.min_snr_gamma) / (snr + 1)  # min-SNR for v-prediction
    params = [*state.unet.parameters(), *state.text_encoder.parameters()]
    progress = _Progress("unet", state.unet_step, config.unet_steps, config.batch)
    last_save = time.monotonic()
    while state.unet_step < config.unet_steps and not should_stop():
        step = state.unet_step
        started = time.monotonic()
        rng = _rng(config, "unet", step)
        torch.manual_seed(rng.getrandbits(63))
        pool.refresh(config.pool_refresh, rng)
        latents, scenes = pool.draw(config.batch, rng)
        texts = captions_for(
            scenes, rng, config.attribute_drop, config.unconditional, config.fragments
        )
        ids = state.tokenizer(
            texts, padding="max_length", max_length=state.tokenizer.model_max_length,
            truncation=True, return_tensors="pt",
        ).input_ids  # fmt: skip
        noise = torch.randn_like(latents)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (config.batch,))
        noisy = scheduler.add_noise(latents, noise, t)
        target = scheduler.get_velocity(latents, noise, t)
        embeddings = state.text_encoder(ids)[0]
        predicted = state.unet(noisy, t, embeddings).sample
        per_sample = (predicted - target).pow(2).mean(dim=(1, 2, 3))
        loss = (weights[t] * per_sample).mean()
        for group in state.optimiser.param_groups:
            group["lr"] = _learning_rate(config, step)
        state.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        state.optimiser.step()
        state.ema.step(params)
        extra = ""
        if step % config.decoder_every == 0 and state.decoder_step < config.decoder_steps:
            extra = f"decoder {_decoder_step(state, rng):.4f}"
        state.unet_step += 1
        state.seconds["unet"] = state.seconds.get("unet", 0.0) + time.monotonic() - started
        progress.update(step, loss.item(), extra)
        if state.unet_step % config.eval_every == 0 or state.unet_step == config.unet_steps:
            _evaluate(state)
        if time.monotonic() - last_save > config.checkpoint_minutes * 60:
            save_state(state)
            last_save = time.monotonic()


def _decoder_step(state: TrainState, rng: random.Random) -> float:
    import torch

    images = image_batch(_scenes(rng, state.config.decoder_batch))
    loss = _vae_loss(state, images, frozen_encoder=True)
    state.decoder_optimiser.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(state.vae.decoder.parameters(), 1.0)
    state.decoder_optimiser.step()
    state.decoder_step += 1
    return float(loss.item())


@contextlib.contextmanager
def _ema_weights(state: TrainState) -> Iterator[None]:
    params = [*state.unet.parameters(), *state.text_encoder.parameters()]
    state.ema.store(params)
    state.ema.copy_to(params)
    try:
        yield
    finally:
        state.ema.restore(params)


def _evaluate(state: TrainState) -> None:
    started = time.monotonic()
    with _ema_weights(state):
        result = evaluate(
            state.pipeline(), state.config.eval_images, seed=state.config.seed,
            grid_path=state.run_dir / "samples" / f"step-{state.unet_step:06d}.png",
        )  # fmt: skip
        save_snapshot(state)
    hours = sum(state.seconds.values()) / 3600
    record = {"step": state.unet_step, "compute_hours": round(hours, 3), **result}
    with (state.run_dir / "eval.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
    shown = ", ".join(f"{k} {v:.0%}" for k, v in result.items() if isinstance(v, float))
    log.info("eval at step %d (%.2f h): %s (%.0f s)", state.unet_step, hours, shown,
             time.monotonic() - started)  # fmt: skip


def train(config: TrainConfig) -> TrainState:
    """Run (or resume) the stages in ``config.run_dir`` until done or signalled."""
    import torch

    torch.set_num_threads(config.threads)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    stop = {"requested": False}

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: saving and stopping", signum)
        stop["requested"] = True

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    state = load_state(config)
    log.info("config %s", json.dumps(asdict(config), default=str))
    log.info("%s", state.describe())
    try:
        _train_vae(state, lambda: stop["requested"])
        if not stop["requested"]:
            save_state(state)
            _train_unet(state, lambda: stop["requested"])
    finally:
        save_state(state)
        log.info("saved at vae %d, unet %d, decoder %d", state.vae_step, state.unet_step,
                 state.decoder_step)  # fmt: skip
    return state


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder (checkpoints, logs)")
    for name, value in asdict(TrainConfig(run_dir=Path())).items():
        if name != "run_dir":
            parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = vars(parser.parse_args(argv))
    # On a shared CPU, spinning OpenMP threads burn the time slices a nice'd run gets (a VAE
    # step cost 4× the CPU time); torch reads this when it is first imported, below.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    config = TrainConfig(run_dir=args.pop("run"), **args)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        logging.StreamHandler(),
        logging.FileHandler(config.run_dir / "train.log"),
    ]
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", handlers=handlers, force=True
    )
    with (config.run_dir / "lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"another training run holds {config.run_dir}/lock") from None
        train(config)


if __name__ == "__main__":
    main()
