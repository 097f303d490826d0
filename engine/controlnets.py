"""ControlNets for Retexture: which ControlNet keeps which structure on which model.

``MJ_CONTROLNETS`` maps a structure (``edges``, ``depth``, ``sketch``) — with ``-xl`` for SDXL
models — to a ControlNet: a Hub id (``lllyasviel/control_v11p_sd15_canny``,
``diffusers/controlnet-canny-sdxl-1.0``), a folder in diffusers' layout, or a single
``.safetensors`` file. ``builtin:tiny`` builds a small random ControlNet from the model's own
U-Net (tests: it has an effect, not a meaning). A model that ships its own ControlNets (the
built-in shapes model's ``controlnet-<structure>/`` folders) uses them without any setting.

Loaded on first use on the worker thread and kept; the ControlNet pipeline shares every other
module with the model (``from_pipe``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import ModelLoadError
from engine.models import Architecture, LoadedModel

__all__ = ["BUILTIN_TINY", "ControlNetRegistry", "controlnet_key", "tiny_controlnet"]

BUILTIN_TINY = "builtin:tiny"
TINY_SEED = 1234
TINY_ZERO_CONV_STD = 0.3
"""The tiny ControlNet's output convolutions: random instead of zero, so the control shows."""
CONDITIONING_CHANNELS = (16, 32, 96, 256)


def controlnet_key(structure: str, architecture: Architecture) -> str:
    """The ``MJ_CONTROLNETS`` key for ``structure`` on a model of ``architecture``."""
    return f"{structure}-xl" if architecture is Architecture.SDXL else structure


class ControlNetRegistry:
    """The configured ControlNets, loaded once each (per model for the built-in ones)."""

    def __init__(
        self,
        sources: Mapping[str, str] | None = None,
        *,
        device: str = "cpu",
        dtype: Any = None,
    ) -> None:
        self.sources = dict(sources or {})
        self.device = device
        self.dtype = dtype
        self._loaded: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def source_for(self, model: LoadedModel, structure: str) -> str | None:
        """Where the ControlNet for ``structure`` on ``model`` comes from; ``None``: none."""
        configured = self.sources.get(controlnet_key(structure, model.architecture))
        if configured:
            return configured
        shipped = _shipped(model, structure)
        return str(shipped) if shipped is not None else None

    def get(self, model: LoadedModel, structure: str) -> Any | None:
        """The ControlNet for ``structure`` on ``model`` (``None`` when there is none)."""
        source = self.source_for(model, structure)
        if source is None:
            return None
        key = (model.source, source) if source == BUILTIN_TINY else ("", source)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = self._load(model, source)
            return self._loaded[key]

    def _load(self, model: LoadedModel, source: str) -> Any:
        if source == BUILTIN_TINY:
            return tiny_controlnet(model)
        from diffusers import ControlNetModel

        dtype = self.dtype if self.dtype is not None else model.dtype
        try:
            if source.endswith(".safetensors") and Path(source).is_file():
                net = ControlNetModel.from_single_file(source, torch_dtype=dtype)
            else:
                net = ControlNetModel.from_pretrained(source, torch_dtype=dtype)
        except (OSError, ValueError, KeyError, RuntimeError) as error:
            raise ModelLoadError(
                f"could not load the ControlNet {source} ({type(error).__name__}: "
                f"{str(error)[:200]}); check MJ_CONTROLNETS"
            ) from error
        return net.to(model.device)


def tiny_controlnet(model: LoadedModel) -> Any:
    """A ControlNet built from ``model``'s U-Net with random (not zero) output convolutions:
    deterministic, offline, and the control image visibly steers the result."""
    import torch
    from diffusers import ControlNetModel

    unet = model.text2img.unet
    levels = max(1, model.vae_scale_factor.bit_length())  # 8 → 4 levels, 4 → 3
    channels = CONDITIONING_CHANNELS[-levels:] if levels <= 4 else CONDITIONING_CHANNELS
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(TINY_SEED)
        net = ControlNetModel.from_unet(
            unet, conditioning_embedding_out_channels=channels, load_weights_from_unet=False
        )
        _copy_encoder(unet, net)
        for block in [*net.controlnet_down_blocks, net.controlnet_mid_block]:
            torch.nn.init.normal_(block.weight, std=TINY_ZERO_CONV_STD)
            torch.nn.init.zeros_(block.bias)
    finally:
        torch.random.set_rng_state(state)
    return net.to(device=model.device, dtype=model.dtype).eval().requires_grad_(False)


def _copy_encoder(unet: Any, net: Any) -> None:
    """The U-Net's encoder weights into the ControlNet's copy of it. A U-Net that has had
    LoRAs (a ``--lora`` or portrait job) keeps peft's wrappers: their ``base_layer`` weights
    are the plain ones, and the LoRA weights themselves are left out."""
    wanted = net.state_dict()
    plain = {}
    for key, value in unet.state_dict().items():
        if "lora_" in key:
            continue
        key = key.replace(".base_layer.", ".")
        if key in wanted and wanted[key].shape == value.shape:
            plain[key] = value
    missing = [k for k in wanted if k not in plain and not k.startswith("controlnet_")]
    if missing:
        raise ModelLoadError(f"the built-in ControlNet misses U-Net weights: {missing[:3]}")
    net.load_state_dict(plain, strict=False)


def _shipped(model: LoadedModel, structure: str) -> Path | None:
    """A ControlNet the model's own folder ships (``<model>/controlnet-<structure>/``)."""
    from engine.models import SHAPES_FOLDER, SHAPES_SOURCE

    folder = SHAPES_FOLDER if model.source == SHAPES_SOURCE else Path(model.source)
    candidate = folder / f"controlnet-{structure}"
    return candidate if (candidate / "config.json").is_file() else None
