"""Reference-only attention on one U-Net: the fallback's way of showing the model a reference.

Before every guided U-Net call of a pipeline, the same U-Net runs once on the reference's
latent, noised to the call's timestep with a fixed noise, conditioned like the call's
conditional half (a *write* pass: the self-attentions of the mid and up blocks store their
inputs). In the call itself (the *read* pass) those self-attentions let the conditional half
attend over [own tokens + reference tokens], mixed half and half with plain self-attention
(as :mod:`engine.mimic.attention` does between MimicBrush's two U-Nets); the unconditional
half is computed exactly as without the reference. This is the "reference-only" control of
the ControlNet WebUI extension and diffusers' community ``stable_diffusion_reference``
pipeline, done with a forward pre-hook so that the engine's own pipelines run unchanged.

The processors are installed at the first U-Net call (after anything the job installs, such
as IP-Adapters) and only those are taken out afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from engine.mimic.attention import reference_layers, with_reference

__all__ = ["ReferenceOnly", "reference_only"]

_NOISE_SEED = 0x5EF0_0001


@dataclass(eq=False)
class ReferenceOnly:
    """The state of one job's reference-only attention; ``enabled`` off ignores the reference
    (the write passes still run, the reads are plain self-attention)."""

    enabled: bool = True
    writes: int = 0
    """Write passes run (one per guided U-Net call)."""
    writing: bool = False
    bank: dict[str, Any] = field(default_factory=dict, repr=False)
    latent: Any = None
    noise: Any = None


@contextlib.contextmanager
def reference_only(pipe: Any, reference: Image.Image) -> Iterator[ReferenceOnly]:
    """Show ``reference`` to ``pipe``'s U-Net while the context is open."""
    unet = pipe.unet
    state = ReferenceOnly()
    installed: dict[str, Any] = {}

    def before_call(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if state.writing:
            return
        if not installed:
            installed.update(_install(unet, state))
        sample = args[0] if args else kwargs["sample"]
        timestep = args[1] if len(args) > 1 else kwargs["timestep"]
        hidden = args[2] if len(args) > 2 else kwargs["encoder_hidden_states"]
        _write(pipe, state, reference, sample, timestep, hidden, kwargs)

    handle = unet.register_forward_pre_hook(before_call, with_kwargs=True)
    try:
        yield state
    finally:
        handle.remove()
        state.bank.clear()
        if installed:
            current = dict(unet.attn_processors)
            mine = {name for name, processor in installed.items() if current[name] is processor}
            if mine:
                unet.set_attn_processor(
                    {n: (_original(installed[n]) if n in mine else p) for n, p in current.items()}
                )


def _install(unet: Any, state: ReferenceOnly) -> dict[str, Any]:
    current = dict(unet.attn_processors)
    ours = {name: _SelfReference(state, name, current[name]) for name in reference_layers(unet)}
    unet.set_attn_processor({**current, **ours})
    return dict(ours)


def _original(processor: Any) -> Any:
    return processor.plain


def _write(
    pipe: Any,
    state: ReferenceOnly,
    reference: Image.Image,
    sample: Any,
    timestep: Any,
    hidden: Any,
    kwargs: dict[str, Any],
) -> None:
    """The write pass: the reference's latent at ``timestep``, conditioned like the first
    conditional row of the call."""
    import torch

    batch = sample.shape[0]
    row = batch // 2 if batch > 1 else 0  # the guided batch is [unconditional, conditional]
    if state.latent is None or state.latent.shape[-2:] != sample.shape[-2:]:
        state.latent = _encode(pipe, reference, sample)
        generator = torch.Generator("cpu").manual_seed(_NOISE_SEED)
        noise = torch.randn(state.latent.shape, generator=generator)
        state.noise = noise.to(state.latent.device, state.latent.dtype)
    scheduler = pipe.scheduler
    t = timestep if torch.is_tensor(timestep) else torch.tensor(timestep)
    t = t.reshape(-1)[:1].to(state.latent.device)
    noisy = scheduler.add_noise(state.latent, state.noise, t)
    noisy = scheduler.scale_model_input(noisy, t)
    channels = sample.shape[1]
    if channels == 9:  # an inpainting U-Net: nothing masked, the whole reference visible
        zeros = torch.zeros_like(noisy[:, :1])
        noisy = torch.cat([noisy, zeros, state.latent], dim=1)
    rest = {k: _row(v, batch, row) for k, v in kwargs.items() if k not in ("sample", "timestep")}
    rest.pop("encoder_hidden_states", None)
    rest["return_dict"] = False
    state.writing = True
    try:
        with torch.no_grad():
            pipe.unet(noisy.to(sample.dtype), t, _row(hidden, batch, row), **rest)
    finally:
        state.writing = False
    state.writes += 1


def _encode(pipe: Any, reference: Image.Image, sample: Any) -> Any:
    import torch

    factor = int(pipe.vae_scale_factor)
    size = (sample.shape[-1] * factor, sample.shape[-2] * factor)
    pixels = pipe.image_processor.preprocess(reference.convert("RGB").resize(size))
    vae = pipe.vae
    with torch.no_grad():
        latent = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.mean
    return latent * vae.config.scaling_factor


def _row(value: Any, batch: int, row: int) -> Any:
    """``value`` with every tensor of the call's batch cut to row ``row`` (nested in dicts
    and lists, like SDXL's ``added_cond_kwargs`` or IP-Adapter image embeddings)."""
    import torch

    if torch.is_tensor(value):
        return value[row : row + 1] if value.ndim and value.shape[0] == batch else value
    if isinstance(value, dict):
        return {k: _row(v, batch, row) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_row(v, batch, row) for v in value)
    return value


class _SelfReference:
    """A self-attention that stores its input in write passes and, in read passes, lets the
    conditional half also attend over the stored reference tokens."""

    def __init__(self, state: ReferenceOnly, name: str, plain: Any) -> None:
        self.state, self.name, self.plain = state, name, plain

    def __call__(
        self,
        attn: Any,
        hidden_states: Any,
        encoder_hidden_states: Any = None,
        attention_mask: Any = None,
        temb: Any = None,
    ) -> Any:

        state = self.state
        out = self.plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        if state.writing:
            state.bank[self.name] = hidden_states
            return out
        stored = state.bank.get(self.name)
        if not state.enabled or stored is None:
            return out
        return with_reference(self.plain, attn, hidden_states, out, stored, temb)
