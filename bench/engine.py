"""Engine benchmark: engine overhead vs a bare diffusers call, and grid encoding.

CPU (default): the built-in tiny model. Prints the engine's time per 2×2 grid (submitted
through ``Engine`` from asyncio, worker thread and all) against a bare ``pipe(...)`` call
doing the same work on the same model (target ratio ≤ 1.05); then the time to compose and
encode a 2048² grid (PNG against Pillow's encoder, and the full encodes spent fitting 10 MiB
and 0.8 MiB); then where ``mjbot imagine``'s start-up goes (``--only grid|startup``).

GPU: ``--device cuda --arch sd15|sdxl`` builds the full-size architecture with random weights
(no download) in fp16/bf16 and prints seconds per 2×2 grid and it/s; ``--speed LIST`` applies
the speed options (``engine.speed``) to the model first.

``--compare`` (``bench/speed.py``): in one run on the same card, seconds per 2×2 grid of plain
diffusers defaults against ``--speed`` (all options unless given) for SD 1.5-class 512²/20
steps and SDXL-class 1024²/30 steps (``--arch both``, the default there), and the ratio.

Run: .venv/bin/python bench/engine.py [--device cuda --arch sdxl] [--runs N] [--steps N]
     .venv/bin/python bench/engine.py --compare --device cuda [--speed bf16,compile]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

PROMPT = "a red fox in the snow, golden hour, detailed fur"


def full_size_pipeline(arch: str, device: str, dtype: Any) -> Any:
    """SD 1.5 or SDXL at full size with random weights, built on ``device`` (no download)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
    )

    from engine.tiny import write_byte_tokenizer

    folder = Path(tempfile.mkdtemp())
    write_byte_tokenizer(folder)
    tokenizer = CLIPTokenizer.from_pretrained(folder, local_files_only=True)
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )
    clip_l = CLIPTextConfig(
        vocab_size=49408,
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        max_position_embeddings=77,
        hidden_act="quick_gelu",
        projection_dim=768,
    )
    with torch.device(device):
        vae = AutoencoderKL(
            block_out_channels=(128, 256, 512, 512),
            layers_per_block=2,
            latent_channels=4,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            sample_size=1024 if arch == "sdxl" else 512,
        )
        if arch == "sd15":
            unet = UNet2DConditionModel(
                sample_size=64,
                layers_per_block=2,
                block_out_channels=(320, 640, 1280, 1280),
                down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
                cross_attention_dim=768,
                attention_head_dim=8,
            )
            pipe = StableDiffusionPipeline(
                vae=vae,
                text_encoder=CLIPTextModel(clip_l),
                tokenizer=tokenizer,
                unet=unet,
                scheduler=scheduler,
                safety_checker=None,
                feature_extractor=None,
                requires_safety_checker=False,
            )
        else:
            unet = UNet2DConditionModel(
                sample_size=128,
                layers_per_block=2,
                block_out_channels=(320, 640, 1280),
                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                transformer_layers_per_block=(1, 2, 10),
                attention_head_dim=(5, 10, 20),
                cross_attention_dim=2048,
                use_linear_projection=True,
                addition_embed_type="text_time",
                addition_time_embed_dim=256,
                projection_class_embeddings_input_dim=2816,
            )
            big_g = CLIPTextConfig(
                vocab_size=49408,
                hidden_size=1280,
                intermediate_size=5120,
                num_hidden_layers=32,
                num_attention_heads=20,
                max_position_embeddings=77,
                hidden_act="gelu",
                projection_dim=1280,
            )
            pipe = StableDiffusionXLPipeline(
                vae=vae,
                text_encoder=CLIPTextModel(clip_l),
                text_encoder_2=CLIPTextModelWithProjection(big_g),
                tokenizer=tokenizer,
                tokenizer_2=tokenizer,
                unet=unet,
                scheduler=scheduler,
            )
    return pipe.to(device, dtype)


class EngineTimer:
    """One engine serving ``model``, timed per grid from submit to result."""

    def __init__(self, model: Any) -> None:
        from engine.engine import Engine, EngineConfig

        self.runner = asyncio.Runner()
        self.engine = Engine(
            EngineConfig(models={"default": model.source}, devices=(str(model.device),))
        )
        self.engine.registries[0].add(model)
        self.runner.run(self.engine.start(warm_up=False))

    def time(self, request: Any) -> float:
        async def one() -> float:
            started = time.perf_counter()
            await self.engine.submit(request).future
            return time.perf_counter() - started

        return self.runner.run(one())

    def close(self) -> None:
        self.runner.run(self.engine.close())
        self.runner.close()


def time_bare(
    model: Any, request: Any, width: int, height: int, steps: int, guidance: float, runs: int
) -> list[float]:
    import torch

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        generators = [torch.Generator("cpu").manual_seed(s) for s in request.resolved_seeds()]
        model.text2img(
            prompt=[PROMPT] * 4,
            generator=generators,
            num_inference_steps=steps,
            guidance_scale=guidance,
            height=height,
            width=width,
            output_type="pil",
        )
        _sync(model.device)
        times.append(time.perf_counter() - started)
    return times


def _sync(device: Any) -> None:
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def render_like_grid() -> Any:
    """A 2048² grid of smooth colour fields with fine grain: closer to renders than noise."""
    import numpy as np
    from PIL import Image

    from engine.grid import compose_grid

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    cells = [Image.fromarray(b).resize((1024, 1024), Image.Resampling.BICUBIC) for b in base]
    grain = [rng.integers(-12, 12, (1024, 1024, 3)) for _ in cells]
    cells = [
        Image.fromarray(np.clip(np.asarray(c).astype(int) + g, 0, 255).astype(np.uint8))
        for c, g in zip(cells, grain, strict=True)
    ]
    return compose_grid(cells)


def bench_grid(runs: int = 3) -> None:
    import io

    from engine import grid as grid_module
    from engine.grid import compose_grid, encode_png, encode_to_fit

    grid = render_like_grid()
    cells = [grid.crop((x, y, x + 1024, y + 1024)) for y in (0, 1024) for x in (0, 1024)]
    started = time.perf_counter()
    compose_grid(cells)
    compose_ms = 1000 * (time.perf_counter() - started)

    def pillow_png() -> bytes:
        buffer = io.BytesIO()
        grid.save(buffer, format="PNG", compress_level=3)  # the encoder before issue 15
        return buffer.getvalue()

    fast_ms, fast = _best_ms(lambda: encode_png(grid), runs)
    pillow_ms, slow = _best_ms(pillow_png, runs)
    print(
        f"grid 2048×2048: compose {compose_ms:.0f} ms; PNG {fast_ms:.0f} ms "
        f"({len(fast) / 2**20:.2f} MiB) vs Pillow level 3 {pillow_ms:.0f} ms "
        f"({len(slow) / 2**20:.2f} MiB): ratio {fast_ms / pillow_ms:.2f} "
        "(target ≤ 250 ms where Pillow took 622 ms, ratio ≤ 0.40)"
    )
    original = grid_module._encode_prepared
    for limit in (10 * 2**20, 8 * 2**20 // 10):
        full: list[str] = []

        def counting(image: Any, format: str, quality: int | None, full: list[str] = full) -> Any:
            if image.size == grid.size:
                full.append(f"{format}:{quality}")
            return original(image, format, quality)

        grid_module._encode_prepared = counting
        try:
            started = time.perf_counter()
            fitted = encode_to_fit(grid, limit)
            took = 1000 * (time.perf_counter() - started)
        finally:
            grid_module._encode_prepared = original
        print(
            f"  fit {limit / 2**20:.1f} MiB: {took:.0f} ms, {len(full)} full encodes "
            f"({', '.join(full)}) → {fitted.format} q={fitted.quality} "
            f"{fitted.nbytes / 2**20:.2f} MiB {fitted.width}×{fitted.height} (target ≤ 2)"
        )


def _best_ms(work: Any, runs: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        best = min(best, 1000 * (time.perf_counter() - started))
    return best, result


_LOAD_TINY = (
    "import torch, pathlib, tempfile; from engine.models import load_model; "
    "m = load_model('builtin:tiny', device='cpu', dtype=torch.float32, "
    "cache_dir=pathlib.Path(tempfile.gettempdir()) / 'mjbot-bench-models')"
)
STARTUP_STAGES = {
    "python": "pass",
    "import torch": "import torch",
    "+ diffusers pipelines": "import torch; from diffusers import AutoPipelineForText2Image",
    "+ load builtin:tiny": _LOAD_TINY,
    "+ one bare 2×2 render": (
        _LOAD_TINY + "; m.text2img('a red fox', num_images_per_prompt=4, num_inference_steps=8, "
        "width=256, height=256, generator=torch.Generator().manual_seed(1))"
    ),
}


def bench_startup(runs: int = 2) -> None:
    """Where ``mjbot imagine`` start-up goes: each stage in a fresh interpreter, then the
    whole command (best of ``runs``). Wall seconds and CPU seconds (user + system of the
    child): on a shared machine the CPU figure is the one that does not depend on the
    neighbours."""

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    times: dict[str, tuple[float, float]] = {}
    for name, code in STARTUP_STAGES.items():
        times[name] = min(_timed([sys.executable, "-c", code], env) for _ in range(runs))
    with tempfile.TemporaryDirectory() as folder:
        cli = [
            sys.executable,
            "-c",
            "from bot.cli import main; main()",
            "imagine",
            "a red fox --seed 1",
            "--out",
            str(Path(folder) / "grid.png"),
            "--device",
            "cpu",
        ]
        env["MJ_DATA_DIR"] = str(Path(tempfile.gettempdir()) / "mjbot-bench-data")
        _timed(cli, env)  # builds the tiny model once
        times["mjbot imagine (whole)"] = min(_timed(cli, env) for _ in range(runs))
    print("start-up (fresh interpreter each, best of", runs, "runs):      wall     CPU")
    for name, (wall, cpu) in times.items():
        print(f"  {name:<32} {wall:6.2f} s {cpu:6.2f} s")
    whole_wall, whole_cpu = times["mjbot imagine (whole)"]
    base_wall, base_cpu = times["+ one bare 2×2 render"]
    print(
        "  mjbot imagine over import torch + diffusers + load the model + one bare render: "
        f"wall {whole_wall / base_wall:.2f}×, CPU {whole_cpu / base_cpu:.2f}× "
        f"(the rest: {whole_cpu - base_cpu:.2f} s CPU)"
    )


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT)  # noqa: S603 - our own interpreter and code
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    cli = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    cli.add_argument("--device", default="cpu")
    cli.add_argument("--arch", choices=("tiny", "sd15", "sdxl", "both"), default=None)
    cli.add_argument("--runs", type=int, default=5)
    cli.add_argument("--steps", type=int, default=None, help="default 30 (--compare: 20/30)")
    cli.add_argument("--speed", default=None, help="speed options, e.g. bf16,compile")
    cli.add_argument("--compare", action="store_true", help="defaults vs --speed (GPU)")
    cli.add_argument("--size", type=int, default=None, help="--compare: image side")
    cli.add_argument("--compile-mode", default=None, help="--compare: torch.compile mode")
    cli.add_argument("--aspect", default="1:1", help="W:H of the grid images")
    cli.add_argument("--only", choices=("render", "grid", "startup"), default=None)
    args = cli.parse_args()
    if args.only == "grid":
        bench_grid()
        return
    if args.only == "startup":
        bench_startup()
        return
    if args.compare:
        from bench.speed import run
        from engine.speed import ALL_OPTIONS

        archs = ["sd15", "sdxl"] if args.arch in (None, "both") else [args.arch]
        if "tiny" in archs:
            cli.error("--compare times the full-size sd15 and sdxl architectures")
        speed = ALL_OPTIONS if args.speed is None else args.speed
        run(
            archs,
            args.device,
            speed,
            size=args.size,
            steps=args.steps,
            runs=args.runs,
            compile_mode=args.compile_mode,
        )
        return
    args.arch = args.arch or "tiny"
    if args.arch == "both":
        cli.error("--arch both is for --compare")
    args.steps = args.steps or 30

    import diffusers.utils.logging
    import torch
    import transformers.utils.logging

    from engine.conditioning import guidance_for_stylize
    from engine.models import load_model, prepare_model, resolve_dtype
    from engine.request import GenerationRequest, WeightedText
    from engine.sizes import size_for_aspect
    from engine.speed import parse_speed

    torch.set_grad_enabled(False)
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    speed = parse_speed(args.speed or "")
    dtype = speed.dtype_for(resolve_dtype("auto", args.device))
    started = time.perf_counter()
    if args.arch == "tiny":
        model = load_model(
            "builtin:tiny",
            device=args.device,
            dtype=dtype,
            cache_dir=Path(tempfile.mkdtemp()),
            speed=speed,
        )
    else:
        model = prepare_model(
            full_size_pipeline(args.arch, args.device, dtype),
            f"random:{args.arch}",
            device=args.device,
            speed=speed,
        )
    if model.speed is not None:
        print(model.speed.describe())
    print(
        f"model {model.source} ({model.architecture}, native {model.native}) on "
        f"{args.device} {dtype}: built in {time.perf_counter() - started:.1f} s"
    )
    aspect = tuple(int(x) for x in args.aspect.split(":"))
    width, height = size_for_aspect((aspect[0], aspect[1]), model.native)
    request = GenerationRequest(
        prompt=(WeightedText(PROMPT),), seed=1, steps=args.steps, aspect=(aspect[0], aspect[1])
    )
    guidance = guidance_for_stylize(request.stylize)
    timer = EngineTimer(model)
    # Warm up both paths (first calls allocate and pick kernels), then alternate them so
    # drift on a shared machine affects both alike.
    timer.time(request)
    time_bare(model, request, width, height, args.steps, guidance, 1)
    engine_times: list[float] = []
    bare_times: list[float] = []
    for _ in range(args.runs):
        bare_times += time_bare(model, request, width, height, args.steps, guidance, 1)
        engine_times.append(timer.time(request))
    timer.close()
    engine_s, bare_s = statistics.median(engine_times), statistics.median(bare_times)
    print(f"2×2 grid {width}×{height}, {args.steps} steps, {args.runs} runs each (median):")
    print(f"  bare diffusers: {bare_s:.3f} s/grid, {args.steps / bare_s:.2f} it/s")
    print(f"  engine:         {engine_s:.3f} s/grid, {args.steps / engine_s:.2f} it/s")
    print(f"  ratio engine/bare: {engine_s / bare_s:.3f} (target ≤ 1.05)")
    if args.arch == "tiny" and args.only is None:
        bench_grid()
        bench_startup()


if __name__ == "__main__":
    main()
