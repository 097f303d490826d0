"""What the engine is configured with (the bot builds it from settings; ``mjbot gpu`` too)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.house_style import DEFAULT_HOUSE_STYLES, HouseStyles
from engine.speed import SpeedOptions

__all__ = ["EngineConfig"]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    models: Mapping[str, str] = field(default_factory=lambda: {"default": "builtin:tiny"})
    """Version key (``default``, ``6.1``, ``niji``, ``niji 6``…) → model source."""
    devices: tuple[str, ...] = ("auto",)
    dtype: str = "auto"
    cache_dir: Path = Path("data/models")
    single_file_config: Path | None = None
    sampler: str = "dpm++"
    starvation_s: float | None = 600.0
    steps: int | None = None
    """Sampling steps at ``--q 1`` for every model (default: 30; 8 for built-in models)."""
    ip_adapter: str = "auto"
    """IP-Adapter source for reference images: ``auto``, ``builtin:tiny``, a folder or a Hub
    id laid out like ``h94/IP-Adapter`` (see ``engine/references.py``)."""
    house_styles: HouseStyles = DEFAULT_HOUSE_STYLES
    """The default look, applied with a strength from ``--stylize``; ``--style raw`` leaves
    it out (``engine/house_style.py``)."""
    vgg19: str | None = None
    """Style transfer's VGG19 weights (``MJ_VGG19``): a ``.safetensors``/``.pth`` file or a
    Hub id like ``timm/vgg19.tv_in1k``; ``None``: the built-in random-filter network
    (``engine/transfer/backbone.py``; announce it with ``describe_backbone``)."""
    lora_dir: Path | None = None
    """``--lora``'s folder (``MJ_LORA_DIR``; see ``engine/loras.py``); ``None``: no LoRAs."""
    portrait_dir: Path | None = None
    """Where ``/portrait`` keeps each user's portraits (``<owner>/<name>/``): their face LoRAs
    are named ``portrait:<owner>/<name>``; ``None``: no portraits."""
    controlnets: Mapping[str, str] = field(default_factory=dict)
    """Retexture's ControlNets (``MJ_CONTROLNETS``): ``edges``/``depth``/``sketch`` (``-xl``
    for SDXL) → a Hub id, folder or file, or ``builtin:tiny``; see ``engine/controlnets.py``."""
    depth_model: str | None = "depth-anything/Depth-Anything-V2-Small-hf"
    """Retexture's depth estimator (``MJ_DEPTH_MODEL``; ``builtin:tiny`` for tests)."""
    segmenter: str | None = "grabcut"
    """Change Background's subject finder (``MJ_SEGMENTER``): ``grabcut`` (no weights), a
    salient-object model (BiRefNet, RMBG) by Hub id or folder, ``builtin:tiny``, or ``none``
    (the user marks the subject)."""
    speed: SpeedOptions = field(default_factory=SpeedOptions)
    """Speed options for the diffusion models (``MJ_SPEED``: bf16, channels_last, fused_qkv,
    sdpa, compile; ``engine/speed.py``); none by default."""
    max_batch: int = 1
    """Compatible queued grids (same model, size, steps, guidance) a worker renders in one
    pipeline call (``MJ_BATCH``); 1: one job at a time."""
    gpu_urls: tuple[str, ...] = ()
    """Remote GPU workers (``MJ_GPU_URL``/``MJ_GPU_URLS``): the base URLs of ``mjbot gpu``
    services (``engine.remote``); empty: render on this machine's devices."""
    gpu_token: str | None = None
    """The bearer token the GPU services require (``MJ_GPU_TOKEN``)."""
    gpu_attempts: int = 3
    """Remote runs of one job before a lost worker fails it."""
    mimicbrush: str | None = None
    """Reference edits' MimicBrush (``MJ_MIMICBRUSH``): a folder laid out like the authors'
    release, or ``builtin:mimic`` (tiny, random); ``None``: the fallback on the diffusion
    model (``engine/mimic/``; announce it with ``describe_mimic``)."""
