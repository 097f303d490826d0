"""Training configuration and state of ``builtin:shapes``: models, optimisers, EMA, counters,
and their checkpoints (``latest.pt``, written atomically; EMA snapshots per evaluation)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.shapes.architecture import (
    SCHEDULER_CONFIG,
    assemble_pipeline,
    build_text_encoder,
    build_tokenizer,
    build_unet,
    build_vae,
)

__all__ = ["TrainConfig", "TrainState", "load_state", "save_snapshot", "save_state"]

CHECKPOINT = "latest.pt"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a run (saved in its checkpoint)."""

    run_dir: Path
    seed: int = 0
    threads: int = 1
    vae_steps: int = 2000
    vae_batch: int = 32
    vae_lr: float = 5e-4
    edge_weight: float = 1.0
    kl_weight: float = 1e-6
    unet_steps: int = 30_000
    batch: int = 32
    lr: float = 5e-4
    lr_floor: float = 0.1
    warmup: int = 500
    min_snr_gamma: float = 5.0
    ema_decay: float = 0.9995
    attribute_drop: float = 0.1
    unconditional: float = 0.1
    fragments: float = 0.0
    pool_size: int = 16_384
    pool_refresh: int = 8
    two_objects: float = 0.5
    decoder_steps: int = 3000
    decoder_every: int = 8
    decoder_batch: int = 16
    decoder_lr: float = 2e-4
    decoder_noise: float = 0.1
    eval_every: int = 1500
    eval_images: int = 64
    checkpoint_minutes: float = 5.0


@dataclass(eq=False)
class TrainState:
    config: TrainConfig
    run_dir: Path
    vae: Any
    unet: Any
    text_encoder: Any
    tokenizer: Any
    noise_scheduler: Any
    vae_optimiser: Any
    decoder_optimiser: Any
    optimiser: Any
    ema: Any
    vae_step: int = 0
    unet_step: int = 0
    decoder_step: int = 0
    scaling_factor: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall-clock seconds spent in training steps per stage (the compute spent)."""

    def pipeline(self) -> Any:
        """A ``StableDiffusionPipeline`` sharing this state's (current) weights."""
        return assemble_pipeline(self.vae, self.unet, self.text_encoder, self.tokenizer)

    def describe(self) -> str:
        def millions(module: Any) -> str:
            return f"{sum(p.numel() for p in module.parameters()) / 1e6:.2f}M"

        return (
            f"parameters: vae {millions(self.vae)}, unet {millions(self.unet)}, text encoder "
            f"{millions(self.text_encoder)}; at vae {self.vae_step}/{self.config.vae_steps}, "
            f"unet {self.unet_step}/{self.config.unet_steps}, decoder {self.decoder_step}"
        )


def _fresh(config: TrainConfig) -> TrainState:
    import torch
    from diffusers import DDPMScheduler
    from diffusers.training_utils import EMAModel

    tokenizer = build_tokenizer(config.run_dir / "tokenizer")
    torch.manual_seed(config.seed)
    vae = build_vae()
    unet = build_unet()
    text_encoder = build_text_encoder(
        len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id
    )
    params = [*unet.parameters(), *text_encoder.parameters()]
    return TrainState(
        config=config,
        run_dir=config.run_dir,
        vae=vae,
        unet=unet,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        noise_scheduler=DDPMScheduler(**SCHEDULER_CONFIG),
        vae_optimiser=torch.optim.AdamW(vae.parameters(), lr=config.vae_lr, weight_decay=0.0),
        decoder_optimiser=torch.optim.AdamW(
            vae.decoder.parameters(), lr=config.decoder_lr, weight_decay=0.0
        ),
        optimiser=torch.optim.AdamW(params, lr=config.lr, weight_decay=0.01),
        ema=EMAModel(
            [p.detach().clone() for p in params],
            decay=config.ema_decay,
            use_ema_warmup=True,
            power=2 / 3,
        ),
    )


_MODULES = ("vae", "unet", "text_encoder")
_OPTIMISERS = ("vae_optimiser", "decoder_optimiser", "optimiser")
_COUNTERS = ("vae_step", "unet_step", "decoder_step", "scaling_factor", "seconds")


def load_state(config: TrainConfig) -> TrainState:
    """A fresh state, or the one saved in ``config.run_dir`` (whose settings must match,
    except the step totals, which may be raised to train longer)."""
    import torch

    state = _fresh(config)
    path = config.run_dir / CHECKPOINT
    if not path.exists():
        return state
    saved = torch.load(path, map_location="cpu", weights_only=False)
    _check_compatible(saved["config"], config)
    for name in _MODULES:
        getattr(state, name).load_state_dict(saved[name])
    for name in _OPTIMISERS:
        getattr(state, name).load_state_dict(saved[name])
    state.ema.load_state_dict(saved["ema"])
    for name in _COUNTERS:
        setattr(state, name, saved[name])
    if state.scaling_factor is not None:
        state.vae.register_to_config(scaling_factor=state.scaling_factor)
    return state


_MAY_CHANGE = {
    "run_dir", "threads", "vae_steps", "unet_steps", "decoder_steps", "eval_every",
    "eval_images", "checkpoint_minutes",
    # A continuation may re-weight its data: more two-object scenes (attribute binding), bare
    # fragments ("red") so that a negative prompt of one word has a meaning.
    "two_objects", "fragments",
}  # fmt: skip


def _check_compatible(saved: dict[str, Any], config: TrainConfig) -> None:
    current = asdict(config)
    changed = [k for k, v in saved.items() if k not in _MAY_CHANGE and current.get(k) != v]
    if changed:
        shown = ", ".join(f"{k}={saved[k]!r} (now {current.get(k)!r})" for k in changed)
        raise SystemExit(f"{config.run_dir} was trained with different settings: {shown}")


def save_state(state: TrainState) -> Path:
    """Write ``latest.pt`` atomically (a crash mid-write leaves the previous one)."""
    import torch

    payload: dict[str, Any] = {"config": asdict(state.config)}
    for name in _MODULES:
        payload[name] = getattr(state, name).state_dict()
    for name in _OPTIMISERS:
        payload[name] = getattr(state, name).state_dict()
    payload["ema"] = state.ema.state_dict()
    for name in _COUNTERS:
        payload[name] = getattr(state, name)
    path = state.run_dir / CHECKPOINT
    partial = path.with_suffix(".partial")
    torch.save(payload, partial)
    os.replace(partial, path)
    return path


def save_snapshot(state: TrainState) -> Path:
    """Save the current weights (call with the EMA weights swapped in) as a float16
    snapshot ``snapshots/step-NNNNNN.pt`` that the exporter can ship."""
    import torch

    folder = state.run_dir / "snapshots"
    folder.mkdir(exist_ok=True)
    payload = {
        name: {k: v.half() for k, v in getattr(state, name).state_dict().items()}
        for name in _MODULES
    }
    payload["meta"] = {"unet_step": state.unet_step, "scaling_factor": state.scaling_factor}
    path = folder / f"step-{state.unet_step:06d}.pt"
    partial = path.with_suffix(".partial")
    torch.save(payload, partial)
    os.replace(partial, path)
    return path
