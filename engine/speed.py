"""Speed options for serving on a GPU: bf16, channels-last, fused QKV, SDPA, torch.compile.

An admin turns them on with a comma list (``MJ_SPEED=bf16,channels_last,fused_qkv,compile``,
``bench/engine.py --speed``); :func:`parse_speed` reads it and :func:`speed_up` applies it to
a loaded pipeline, compile warm-up included, and says what it did in a :class:`SpeedReport`.
It runs where models load, on the worker thread: a compile's minutes delay that device's
first job, never the bot. The options change modules, so every pipeline sharing them through
``from_pipe`` (img2img, inpaint, ControlNet) runs with them too; a separately loaded model
does not. :func:`needs_vae_tiling` decides when a decode must be tiled to fit in memory.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from engine.errors import EngineError

__all__ = [
    "ALL_OPTIONS",
    "COMPILE_MODE",
    "COMPILE_MODES",
    "OPTION_HELP",
    "SpeedOptionError",
    "SpeedOptions",
    "SpeedReport",
    "apply_speed",
    "attention_in_use",
    "needs_vae_tiling",
    "parse_speed",
    "speed_up",
    "unfuse_qkv",
    "warm_up",
]

OPTION_HELP = {
    "bf16": "load and run in bfloat16 (as fast as float16 on Ampere and newer, no overflow)",
    "channels_last": "channels-last memory format for the UNet and VAE convolutions",
    "fused_qkv": "one matmul for the query, key and value projections (UNet and VAE)",
    "sdpa": "check the attention runs on scaled_dot_product_attention; move plain ones to it",
    "compile": "torch.compile the UNet, warmed up at load (minutes, once per model)",
}
"""The options a comma list may name, and what each does (help texts, README)."""
ALL_OPTIONS = ",".join(OPTION_HELP)

COMPILE_MODE = "max-autotune-no-cudagraphs"
"""Inductor autotunes convolutions and matmuls, without CUDA graphs: the engine's step
callbacks read and replace tensors between UNet calls (--stop's x0, --chaos, previews), which
CUDA graphs' reused output buffers would overwrite, and every grid shape would pin a graph
memory pool. At a 2×2 grid's batch of 8 (with guidance) kernel-launch overhead, what CUDA
graphs remove, is a small share of a step."""

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", COMPILE_MODE)

DECODE_ELEMENTS_PER_PIXEL = 1000
"""Peak activations of an SD/SDXL VAE decode, in elements per output pixel (measured on CPU
in float32: 995 at 512², about 1,300 at 256²; the encoder needs about 650)."""
DECODE_HEADROOM = 1.5
"""Allocator fragmentation and convolution workspaces on top of the estimate."""
UNTILED_AREA_FACTOR = 2
"""Without a memory figure (CPU, MPS) images up to twice the model's native area decode in
one piece: every grid and edit; the 2× upscales (four times the area) are tiled."""


class SpeedOptionError(EngineError, ValueError):
    """A speed option list names an option that does not exist (or one twice)."""


@dataclass(frozen=True, slots=True)
class SpeedOptions:
    """What to turn on when a model loads; the default turns nothing on."""

    bf16: bool = False
    channels_last: bool = False
    fused_qkv: bool = False
    sdpa: bool = False
    compile: bool = False
    compile_mode: str = COMPILE_MODE

    def __post_init__(self) -> None:
        if self.compile_mode not in COMPILE_MODES:
            raise SpeedOptionError(
                f"unknown compile mode {self.compile_mode!r}; use {', '.join(COMPILE_MODES)}"
            )

    @property
    def names(self) -> tuple[str, ...]:
        """The options turned on, in :data:`OPTION_HELP` order."""
        return tuple(name for name in OPTION_HELP if getattr(self, name))

    def dtype_for(self, dtype: Any) -> Any:
        """The dtype to load in: bfloat16 when ``bf16`` is on, else ``dtype``."""
        if not self.bf16:
            return dtype
        import torch

        return torch.bfloat16


def parse_speed(text: str) -> SpeedOptions:
    """``"bf16,compile"`` → :class:`SpeedOptions`; ``""`` or ``"none"`` turns nothing on.

    Raises :class:`SpeedOptionError` naming an unknown option and listing the valid ones."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if names == ["none"]:
        return SpeedOptions()
    seen: set[str] = set()
    for name in names:
        if name not in OPTION_HELP:
            close = difflib.get_close_matches(name.lower(), OPTION_HELP, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SpeedOptionError(
                f"unknown speed option {name!r}{hint}; valid options: {', '.join(OPTION_HELP)}"
            )
        if name in seen:
            raise SpeedOptionError(f"speed option {name!r} is named twice")
        seen.add(name)
    flags: dict[str, Any] = dict.fromkeys(names, True)
    return SpeedOptions(**flags)


@dataclass(frozen=True, slots=True)
class SpeedReport:
    """What :func:`apply_speed` did to a pipeline, for the log line and the benchmark."""

    applied: tuple[str, ...]
    unsupported: tuple[str, ...]
    """``"option: why"`` for each option asked for that this pipeline cannot take."""
    dtype: str
    attention: str
    """The attention processors of the UNet and VAE, e.g. ``"AttnProcessor2_0 ×16"``."""
    sdpa: bool
    """Every attention runs on ``torch.nn.functional.scaled_dot_product_attention``."""
    kernel: str
    """The SDPA kernel torch picks for this UNet's attention shapes (``flash``,
    ``memory-efficient``, ``cuDNN``, ``math``; ``flash (CPU)`` on CPU)."""
    warm_up_s: float | None = None
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = [f"speed: {', '.join(self.applied) or 'nothing'} applied ({self.dtype})"]
        parts += [f"not supported: {item}" for item in self.unsupported]
        parts.append(f"attention {self.attention}, SDPA kernel {self.kernel}")
        if self.warm_up_s is not None:
            parts.append(f"compile warm-up {self.warm_up_s:.1f} s")
        return "; ".join(parts + list(self.notes))


def speed_up(pipe: Any, options: SpeedOptions, size: tuple[int, int]) -> SpeedReport:
    """:func:`apply_speed`, then — when compiling — :func:`warm_up` at ``size`` so the compile
    is paid now, on the loading (worker) thread, not by the first user's job."""
    report = apply_speed(pipe, options)
    if "compile" in report.applied:
        report = replace(report, warm_up_s=warm_up(pipe, size))
    return report


def apply_speed(pipe: Any, options: SpeedOptions) -> SpeedReport:
    """Apply ``options`` to a loaded SD/SDXL pipeline (already on its device), in place."""
    import torch

    applied: list[str] = []
    unsupported: list[str] = []
    notes: list[str] = []
    # 1. The dtype first: fusing copies weights in the dtype they have.
    if options.bf16:
        if str(pipe.device).startswith("cuda") and not torch.cuda.is_bf16_supported():
            unsupported.append("bf16: this GPU has no bfloat16")
        else:
            if pipe.unet.dtype != torch.bfloat16:
                pipe.to(dtype=torch.bfloat16)
            applied.append("bf16")
    # 2. Channels-last: convolutions read NHWC, which tensor cores want.
    if options.channels_last:
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
        applied.append("channels_last")
    # 3. Fused QKV projections (the separate ones stay, for the calls the fused copy cannot
    # serve: LoRA layers, IP-Adapter and reference-only attention).
    if options.fused_qkv:
        why = _fuse_qkv(pipe)
        if why is None:
            applied.append("fused_qkv")
        else:
            unsupported.append(f"fused_qkv: {why}")
    # 4. SDPA: plain (pre-torch-2) processors moved to it.
    if options.sdpa:
        moved = _move_to_sdpa(pipe)
        applied.append("sdpa")
        if moved:
            notes.append(f"sdpa: {moved} plain attention processors moved to SDPA")
    # 5. Compile last: it traces the modules as the steps above left them.
    if options.compile:
        _compile_unet(pipe.unet, options.compile_mode)
        applied.append("compile")
        notes.append(f"compile mode {options.compile_mode}")
    attention, sdpa, kernel = attention_in_use(pipe)
    return SpeedReport(
        applied=tuple(applied),
        unsupported=tuple(unsupported),
        dtype=str(pipe.unet.dtype).removeprefix("torch."),
        attention=attention,
        sdpa=sdpa,
        kernel=kernel,
        notes=tuple(notes),
    )


def warm_up(pipe: Any, size: tuple[int, int], steps: int = 2, count: int = 4) -> float:
    """One throwaway 2×2-grid call at ``size`` (with guidance, as jobs run): compiles the UNet
    for that shape. Returns the seconds it took. Other shapes compile on first use."""
    import torch

    width, height = size
    started = time.perf_counter()
    pipe(
        prompt=["warm-up"] * count,
        generator=[torch.Generator("cpu").manual_seed(index) for index in range(count)],
        num_inference_steps=steps,
        guidance_scale=7.0,
        width=width,
        height=height,
        output_type="latent",
    )
    if str(pipe.device).startswith("cuda"):
        torch.cuda.synchronize(pipe.device)
    return time.perf_counter() - started


def unfuse_qkv(pipe: Any) -> None:
    """Back to the separate projections' processors (the fused weights stay, unused)."""
    for module in (pipe.unet, pipe.vae):
        if getattr(module, "original_attn_processors", None) is not None:
            module.unfuse_qkv_projections()


def attention_in_use(pipe: Any) -> tuple[str, bool, str]:
    """The UNet's and VAE's attention processors (``"AttnProcessor2_0 ×16"``), whether all
    run on SDPA, and the SDPA kernel torch picks for the UNet's attention shapes."""
    counts: dict[str, int] = {}
    for module in (pipe.unet, pipe.vae):
        for processor in module.attn_processors.values():
            name = type(processor).__name__
            counts[name] = counts.get(name, 0) + 1
    described = ", ".join(f"{name} ×{count}" for name, count in sorted(counts.items()))
    sdpa = all(name.endswith("2_0") for name in counts)
    return described or "none", sdpa, _sdpa_kernel(pipe.unet)


def needs_vae_tiling(
    size: tuple[int, int],
    count: int,
    *,
    native: int,
    device: str,
    dtype: Any,
    free_bytes: int | None = None,
) -> bool:
    """Whether decoding (and encoding) ``count`` images of ``size`` must be tiled.

    On CUDA: when the decode's estimated peak (:data:`DECODE_ELEMENTS_PER_PIXEL` × pixels ×
    the dtype's size, with :data:`DECODE_HEADROOM`) exceeds the memory free now — a 2048²
    upscale decodes in one piece on an 80 GB card, and even a grid is tiled on a small one.
    Elsewhere, as before: only images over twice the native area (2× upscales)."""
    width, height = size
    if free_bytes is None and device.startswith("cuda"):
        free_bytes = _cuda_free_bytes(device)
    if free_bytes is None:
        return width * height > UNTILED_AREA_FACTOR * native * native
    itemsize = int(getattr(dtype, "itemsize", 4))
    peak = count * width * height * DECODE_ELEMENTS_PER_PIXEL * itemsize * DECODE_HEADROOM
    return peak > free_bytes


def _cuda_free_bytes(device: str) -> int:
    import torch

    free, _ = torch.cuda.mem_get_info(device)
    # Memory torch's caching allocator holds but does not use is free to it too.
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return int(free + cached)


def _fuse_qkv(pipe: Any) -> str | None:
    """Fuse the UNet's and VAE's projections; ``None``, or why it cannot."""
    from diffusers import AutoencoderKL

    if not hasattr(pipe.unet, "fuse_qkv_projections"):
        return f"{type(pipe.unet).__name__} cannot fuse its projections in this diffusers"
    processor = _guarded_processor_class()()
    try:
        pipe.unet.fuse_qkv_projections()
    except ValueError as error:  # added-KV attention (some UNets) cannot be fused
        return str(error)
    pipe.unet.set_attn_processor(processor)
    if isinstance(pipe.vae, AutoencoderKL):
        pipe.vae.fuse_qkv_projections()
        pipe.vae.set_attn_processor(processor)
    return None


@cache
def _guarded_processor_class() -> type:
    import torch
    from diffusers.models.attention_processor import AttnProcessor2_0, FusedAttnProcessor2_0

    class GuardedFusedAttnProcessor2_0(FusedAttnProcessor2_0):  # type: ignore[misc]
        """Fused QKV, except where a LoRA (peft) wraps a separate projection (the fused copy
        knows nothing of the adapter) or a self-attention is given other tokens to attend
        over (reference-only attention; it has no fused key-value layer): those calls take
        the unfused SDPA path."""

        def __init__(self) -> None:
            super().__init__()
            self.unfused = AttnProcessor2_0()

        # Named parameters: Attention drops the keyword arguments a processor's signature
        # does not name (temb among them).
        def __call__(
            self,
            attn: Any,
            hidden_states: Any,
            encoder_hidden_states: Any = None,
            attention_mask: Any = None,
            temb: Any = None,
        ) -> Any:
            plain = torch.nn.Linear
            layer = "to_qkv" if encoder_hidden_states is None else "to_kv"
            fused = hasattr(attn, layer) and type(attn.to_q) is plain
            fused = fused and type(attn.to_k) is plain and type(attn.to_v) is plain
            call = super().__call__ if fused else self.unfused
            return call(attn, hidden_states, encoder_hidden_states, attention_mask, temb)

    return GuardedFusedAttnProcessor2_0


def _move_to_sdpa(pipe: Any) -> int:
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    moved = 0
    for module in (pipe.unet, pipe.vae):
        processors = dict(module.attn_processors)
        plain = [name for name, p in processors.items() if type(p) is AttnProcessor]
        if plain:
            module.set_attn_processor(
                {name: AttnProcessor2_0() if name in plain else p for name, p in processors.items()}
            )
            moved += len(plain)
    return moved


def _compile_unet(unet: Any, mode: str) -> None:
    if str(unet.device).startswith("cuda"):
        # The inductor settings of diffusers' own speed guide (optimization/fp16.md).
        import torch._inductor.config as inductor

        inductor.conv_1x1_as_mm = True
        inductor.coordinate_descent_tuning = True
        inductor.epilogue_fusion = False
        inductor.coordinate_descent_check_all_directions = True
    # Module.compile keeps the UNet's identity and type (pipelines sharing it see it, and
    # diffusers' isinstance checks hold). No fullgraph: a LoRA or IP-Adapter job may break
    # the graph, which must cost speed, not the job. New shapes and adapter sets recompile.
    unet.compile(mode=None if mode == "default" else mode)


def _sdpa_kernel(unet: Any) -> str:
    """The SDPA kernel for each distinct (heads, head size) of the UNet's attention, on its
    device and dtype: what ``scaled_dot_product_attention``'s own dispatch chooses."""
    import torch
    from diffusers.models.attention_processor import Attention
    from torch.nn.attention import SDPBackend

    shapes = {
        (int(m.heads), int(m.inner_dim) // int(m.heads))
        for m in unet.modules()
        if isinstance(m, Attention)
    }
    parameter = next(unet.parameters())
    like = {"dtype": parameter.dtype, "device": parameter.device}
    kernels: set[str] = set()
    for heads, head_size in sorted(shapes):
        query = torch.zeros(2, heads, 256, head_size, **like)
        key = torch.zeros(2, heads, 77, head_size, **like)
        # The private chooser the public function calls (torch ≥ 2.0); one lookup, no kernel.
        backend = SDPBackend(torch._fused_sdp_choice(query, key, key))
        name = _KERNELS.get(backend.name, backend.name.lower())
        kernels.add(f"{name} (CPU)" if parameter.device.type == "cpu" else name)
    return ", ".join(sorted(kernels)) or "none"


_KERNELS = {
    "FLASH_ATTENTION": "flash",
    "EFFICIENT_ATTENTION": "memory-efficient",
    "CUDNN_ATTENTION": "cuDNN",
    "MATH": "math",
}
