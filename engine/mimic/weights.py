"""Loading the authors' MimicBrush release from a local folder (no download).

Layout (``xichenhku/MimicBrush`` + ``xichenhku/cleansd``, as their ``configs/inference.yaml``
points at it)::

    <root>/mimicbrush/mimicbrush.bin          torch.save of {section: state dict}, sections:
        image_proj      projector.{weight,bias}            Linear 1280 → 768
        depth_guider    conv_in.*, blocks.0-5.*, conv_out.*
        referencenet    SD 1.5 U-Net keys minus ``reference_pruned_keys``
        image_encoder   CLIPVisionModelWithProjection keys (+ the legacy position_ids buffer)
        unet            13-channel imitative U-Net keys
    <root>/image_encoder/config.json           CLIP ViT-H/14 config
    <root>/stable-diffusion-v1-5/unet/config.json
    <root>/stable-diffusion-inpainting/unet/config.json, vae/   (or <root>/sd-vae-ft-mse/,
                                                                  which the authors use)
    <root>/depth_model/                        Depth Anything in transformers' format

The U-Nets, the image encoder and the small parts take *all* their weights from
``mimicbrush.bin``, so of the bases only the configs (and the VAE) are read. Every key of every
section must map onto a parameter of the right shape and every parameter must be covered, or a
:class:`ModelLoadError` names the file, the section and the key. The authors' depth checkpoint
(``depth_model/depth_anything_vitb14.pth``, the original repository's format) must first be
converted with transformers' ``convert_depth_anything_to_hf.py``; the loader says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import ModelLoadError
from engine.mimic.depth import GUIDER_CHANNELS, build_depth_guider
from engine.mimic.model import MimicModel, assemble
from engine.mimic.unets import IMITATIVE_CHANNELS, reference_pruned_keys

__all__ = ["CHECKPOINT", "SECTIONS", "load_mimic_model", "release_folder"]

log = logging.getLogger(__name__)

CHECKPOINT = Path("mimicbrush") / "mimicbrush.bin"
SECTIONS = ("image_proj", "depth_guider", "referencenet", "image_encoder", "unet")
LEGACY_ENCODER_KEYS = frozenset({"vision_model.embeddings.position_ids"})
"""Buffers that transformers 4.25 saved and 5.x no longer has (recomputed, so dropped)."""


def release_folder(source: str, *, cache_dir: Path | None = None) -> Path:
    """The folder of the release ``source`` names: a local folder, or a Hub repository id
    (``owner/name``) whose files are laid out as above, downloaded once into the Hub cache
    (offline, ``HF_HUB_OFFLINE=1``: only from the cache). :class:`ModelLoadError` says why not."""
    path = Path(source).expanduser()
    local = source.startswith((".", "/", "~")) or path.exists() or source.count("/") != 1
    if local:
        if not path.is_dir():
            raise ModelLoadError(
                f"MimicBrush weights: {source} is not a folder (MJ_MIMICBRUSH names a folder "
                "laid out like the authors' release: mimicbrush/mimicbrush.bin, "
                "image_encoder/, the SD 1.5 bases, depth_model/ — or a Hub repository id)"
            )
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(source, cache_dir=cache_dir))
    except LocalEntryNotFoundError as error:
        raise ModelLoadError(
            f"MimicBrush weights {source} are not in the local Hub cache and the Hub cannot be "
            f"reached (download them once online, or set MJ_MIMICBRUSH to a folder): {error}"
        ) from error
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"could not fetch MimicBrush weights {source}: {error}") from error


def load_mimic_model(
    root: Path, *, device: str = "cpu", dtype: Any = None, side: int = 512, depth_side: int = 518
) -> MimicModel:
    """The release in ``root``, ready on ``device``; :class:`ModelLoadError` if anything is off."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from torch import nn
    from transformers import (
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
        DepthAnythingForDepthEstimation,
    )

    # 1. Read the combined checkpoint and check its sections.
    file = root / CHECKPOINT
    sections = _read_checkpoint(file)
    # 2. Build each part from its config and map the section onto it.
    reference = UNet2DConditionModel.from_config(
        _config(UNet2DConditionModel, root / "stable-diffusion-v1-5" / "unet")
    )
    _load_section(reference, sections, "referencenet", file, skip=reference_pruned_keys(reference))
    imitative = UNet2DConditionModel.from_config(
        _config(UNet2DConditionModel, root / "stable-diffusion-inpainting" / "unet"),
        in_channels=IMITATIVE_CHANNELS,
    )
    _load_section(imitative, sections, "unet", file)
    encoder_folder = root / "image_encoder"
    _require(encoder_folder / "config.json")
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig.from_pretrained(encoder_folder))
    _load_section(encoder, sections, "image_encoder", file, drop=LEGACY_ENCODER_KEYS)
    projection = nn.ModuleDict(
        {"projector": nn.Linear(encoder.config.hidden_size, imitative.config.cross_attention_dim)}
    )
    _load_section(projection, sections, "image_proj", file)
    guider = build_depth_guider(_guider_channels(sections["depth_guider"], file))
    _load_section(guider, sections, "depth_guider", file)
    # 3. The pretrained parts outside the checkpoint: the VAE and the depth model.
    vae_folder = root / "sd-vae-ft-mse"
    if not (vae_folder / "config.json").exists():
        vae_folder = root / "stable-diffusion-inpainting" / "vae"
    log.info("MimicBrush VAE from %s", vae_folder)
    vae = _pretrained(AutoencoderKL, vae_folder)
    depth_folder = root / "depth_model"
    if (depth_folder / "depth_anything_vitb14.pth").exists() and not (
        depth_folder / "config.json"
    ).exists():
        raise ModelLoadError(
            f"{depth_folder}: depth_anything_vitb14.pth is in the original repository's format; "
            "convert it with transformers' convert_depth_anything_to_hf.py (or put "
            "depth-anything/Depth-Anything-Base-hf there)"
        )
    depth_model = _pretrained(DepthAnythingForDepthEstimation, depth_folder)
    return assemble(
        vae=vae,
        imitative_unet=imitative,
        reference_unet=reference,
        image_encoder=encoder,
        image_projection=projection,
        depth_model=depth_model,
        depth_guider=guider,
        side=side,
        depth_side=depth_side,
        source=str(root),
        device=device,
        dtype=dtype or torch.float32,
    )


def _read_checkpoint(file: Path) -> dict[str, Mapping[str, Any]]:
    import torch

    _require(file)
    try:  # weights_only: a pickle from the internet must not run code
        data = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ModelLoadError(f"{file}: not a readable torch checkpoint ({error})") from error
    if not isinstance(data, dict):
        raise ModelLoadError(f"{file}: expected a dict of sections, found {type(data).__name__}")
    unknown = sorted(set(data) - set(SECTIONS))
    missing = [s for s in SECTIONS if s not in data]
    if unknown:
        raise ModelLoadError(f"{file}: unknown section '{unknown[0]}' (expected {SECTIONS})")
    if missing:
        raise ModelLoadError(f"{file}: missing section '{missing[0]}'")
    return data


def _load_section(
    module: Any,
    sections: Mapping[str, Mapping[str, Any]],
    section: str,
    file: Path,
    *,
    skip: frozenset[str] = frozenset(),
    drop: frozenset[str] = frozenset(),
) -> None:
    """Map every key of ``section`` onto ``module``: ``skip`` are parameters the checkpoint
    leaves out on purpose, ``drop`` are checkpoint keys with no parameter on purpose."""
    state = {k: v for k, v in sections[section].items() if k not in drop}
    expected = module.state_dict()
    for key, value in state.items():
        if key not in expected or key in skip:
            raise ModelLoadError(f"{file}: section '{section}': unexpected key '{key}'")
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ModelLoadError(
                f"{file}: section '{section}': key '{key}' has shape {tuple(value.shape)}, "
                f"expected {tuple(expected[key].shape)}"
            )
    missing = sorted(set(expected) - set(state) - skip)
    if missing:
        raise ModelLoadError(f"{file}: section '{section}': missing key '{missing[0]}'")
    module.load_state_dict(state, strict=not skip)


def _guider_channels(state: Mapping[str, Any], file: Path) -> tuple[int, ...]:
    """The guider's widths, read from its weights (the authors' is ``GUIDER_CHANNELS``)."""
    try:
        first = int(state["conv_in.weight"].shape[0])
        later = [int(state[f"blocks.{2 * i + 1}.weight"].shape[0]) for i in range(3)]
    except KeyError as error:
        raise ModelLoadError(
            f"{file}: section 'depth_guider': missing key '{error.args[0]}' "
            f"(expected the layout of {GUIDER_CHANNELS})"
        ) from error
    return (first, *later)


def _config(model_class: Any, folder: Path) -> dict[str, Any]:
    _require(folder / "config.json")
    config: dict[str, Any] = model_class.load_config(folder, local_files_only=True)
    return config


def _pretrained(model_class: Any, folder: Path) -> Any:
    _require(folder / "config.json")
    try:
        return model_class.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{folder}: cannot load {model_class.__name__} ({error})") from error


def _require(path: Path) -> None:
    if not path.exists():
        raise ModelLoadError(f"{path}: not found (see engine/mimic/weights.py for the layout)")
