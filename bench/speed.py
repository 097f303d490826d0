"""One job's speed on a GPU: diffusers defaults against the speed options, same card, one run.

For each architecture (SD 1.5-class at 512², 20 steps; SDXL-class at 1024², 30 steps; random
weights at full size, no download) it times a 2×2 grid (4 images, guidance on, as jobs run)
with the pipeline as diffusers builds it (float16 on CUDA, its own scheduler, default
attention), then the same architecture with ``--speed`` applied (``engine.speed``: bf16,
channels-last, fused QKV, SDPA check, torch.compile warmed up at load) through the same bare
call, and through the engine (DPM++, step hooks). It prints seconds per grid, the ratio, the
attention processors and SDPA kernel of each, the compile warm-up and whether the VAE tiles.

Targets on an H100/H200: SD 1.5-class ≤ 0.6 s per grid, SDXL-class ≤ 4 s, each ≥ 1.5× the
defaults. On CPU the same path runs with small sizes:
``bench/engine.py --compare --device cpu --arch sd15 --size 64 --steps 2 --runs 1``.

Run: .venv/bin/python bench/engine.py --compare --device cuda [--arch both] [--speed LIST]
"""

from __future__ import annotations

import gc
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Any

PROMPT = "a red fox in the snow, golden hour, detailed fur"
SIZES = {"sd15": 512, "sdxl": 1024}
STEPS = {"sd15": 20, "sdxl": 30}
TARGETS = {"sd15": 0.6, "sdxl": 4.0}
"""Seconds per grid on an H100/H200 at the default size and steps."""
MIN_SPEED_UP = 1.5
GUIDANCE = 7.0


@dataclass(frozen=True, slots=True)
class Timing:
    seconds: float
    """Median seconds per 2×2 grid."""
    attention: str
    kernel: str
    dtype: str


@dataclass(frozen=True, slots=True)
class Comparison:
    arch: str
    size: int
    steps: int
    defaults: Timing
    tuned: Timing
    engine_s: float | None
    """Through the engine (``None``: not at the native size, which the engine renders)."""
    report: Any
    vae_tiling: bool

    @property
    def speed_up(self) -> float:
        return self.defaults.seconds / self.tuned.seconds


def time_grid(pipe: Any, size: int, steps: int, runs: int) -> float:
    """Median seconds for one bare 2×2-grid call, after one untimed call."""
    import torch

    def once() -> float:
        started = time.perf_counter()
        pipe(
            prompt=[PROMPT] * 4,
            generator=[torch.Generator("cpu").manual_seed(seed) for seed in range(4)],
            num_inference_steps=steps,
            guidance_scale=GUIDANCE,
            width=size,
            height=size,
            output_type="pil",
        )
        if str(pipe.device).startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - started

    once()  # allocations and kernel choices (and any compile left) out of the figures
    return statistics.median(once() for _ in range(runs))


def compare(
    arch: str, device: str, options: Any, *, size: int, steps: int, runs: int
) -> Comparison:
    """Defaults, then the tuned pipeline, of ``arch`` on ``device``; one pipeline at a time."""
    import torch

    from bench.engine import EngineTimer, full_size_pipeline
    from engine.models import prepare_model
    from engine.request import GenerationRequest, WeightedText
    from engine.speed import apply_speed, attention_in_use, needs_vae_tiling, warm_up

    cuda = device.startswith("cuda")
    # 1. Plain diffusers: float16 as a user loads it (float32 off CUDA), nothing else.
    baseline = torch.float16 if cuda else torch.float32
    pipe = full_size_pipeline(arch, device, baseline)
    pipe.set_progress_bar_config(disable=True)
    attention, _, kernel = attention_in_use(pipe)
    defaults = Timing(time_grid(pipe, size, steps, runs), attention, kernel, _name(baseline))
    print(f"  {arch} defaults: {defaults.seconds:.3f} s/grid ({attention}; {kernel})", flush=True)
    del pipe
    _free(device)
    # 2. The options, applied and warmed up as the engine does at load (engine.speed).
    pipe = full_size_pipeline(arch, device, options.dtype_for(baseline))
    pipe.set_progress_bar_config(disable=True)
    report = apply_speed(pipe, options)
    if "compile" in report.applied:
        print(f"  {arch} compiling the UNet (warm-up at {size}²)…", flush=True)
        report = _with_warm_up(report, warm_up(pipe, (size, size)))
    native = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
    tiling = needs_vae_tiling((size, size), 4, native=native, device=device, dtype=pipe.dtype)
    if tiling:
        pipe.vae.enable_tiling()
    tuned = Timing(
        time_grid(pipe, size, steps, runs), report.attention, report.kernel, report.dtype
    )
    print(f"  {arch} tuned:    {tuned.seconds:.3f} s/grid ({report.describe()})", flush=True)
    # 3. The same tuned modules through the engine (its sampler, step hooks and worker),
    # which renders a square grid at the model's native size only.
    engine_s = None
    if size == native:
        model = prepare_model(pipe, f"random:{arch}", device=device)
        timer = EngineTimer(model)
        request = GenerationRequest(prompt=(WeightedText(PROMPT),), seed=1, steps=steps)
        try:
            timer.time(request)
            engine_s = statistics.median(timer.time(request) for _ in range(runs))
        finally:
            timer.close()
        print(f"  {arch} engine:   {engine_s:.3f} s/grid", flush=True)
        del model, timer
    del pipe
    _free(device)
    return Comparison(arch, size, steps, defaults, tuned, engine_s, report, tiling)


def _with_warm_up(report: Any, seconds: float) -> Any:
    from dataclasses import replace

    return replace(report, warm_up_s=seconds)


def _name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def _free(device: str) -> None:
    import torch

    gc.collect()
    torch._dynamo.reset()  # compiled code holds the old UNet's graphs
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def run(
    archs: list[str],
    device: str,
    speed: str,
    *,
    size: int | None,
    steps: int | None,
    runs: int,
    compile_mode: str | None,
) -> list[Comparison]:
    """Compare each of ``archs``; print the table (and the targets where they apply)."""
    from dataclasses import replace

    import torch

    from engine.speed import parse_speed

    options = parse_speed(speed)
    if compile_mode is not None:
        options = replace(options, compile_mode=compile_mode)
    card = torch.cuda.get_device_name(device) if device.startswith("cuda") else device
    torch.set_grad_enabled(False)
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # NaNs of random fp16 weights
    print(f"speed options {', '.join(options.names) or 'none'} vs diffusers defaults on {card}")
    rows = [
        compare(
            arch,
            device,
            options,
            size=size or SIZES[arch],
            steps=steps or STEPS[arch],
            runs=runs,
        )
        for arch in archs
    ]
    print(f"2×2 grid, guidance {GUIDANCE}, median of {runs} runs:")
    for row in rows:
        print(
            f"  {row.arch:<5} {row.size}², {row.steps} steps: defaults ({row.defaults.dtype}) "
            f"{row.defaults.seconds:.3f} s, tuned ({row.tuned.dtype}) {row.tuned.seconds:.3f} s "
            f"→ {row.speed_up:.2f}×; through the engine "
            + ("(native size only)" if row.engine_s is None else f"{row.engine_s:.3f} s")
        )
        print(f"        attention: defaults {row.defaults.attention} [{row.defaults.kernel}]")
        print(f"                   tuned {row.tuned.attention} [{row.tuned.kernel}]")
        warm = row.report.warm_up_s
        print(
            f"        compile warm-up: {'not compiled' if warm is None else f'{warm:.1f} s'}; "
            f"VAE tiling: {'on' if row.vae_tiling else 'off'}"
        )
        if row.report.unsupported:
            print(f"        not supported: {'; '.join(row.report.unsupported)}")
        if device.startswith("cuda") and (row.size, row.steps) == (
            SIZES[row.arch],
            STEPS[row.arch],
        ):
            target = TARGETS[row.arch]
            met = row.tuned.seconds <= target and row.speed_up >= MIN_SPEED_UP
            print(
                f"        target (H100/H200) ≤ {target} s and ≥ {MIN_SPEED_UP}×: "
                f"{'met' if met else 'NOT met'}"
            )
    return rows
