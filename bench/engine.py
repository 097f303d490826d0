"""Engine benchmark: engine overhead vs a bare diffusers call, and grid encoding.

CPU (default): the built-in tiny model. Prints the engine's time per 2×2 grid (submitted
through ``Engine`` from asyncio, worker thread and all) against a bare ``pipe(...)`` call
doing the same work on the same model (target ratio ≤ 1.05), then the time to compose and
encode a 2048² grid.

GPU: ``--device cuda --arch sd15|sdxl`` builds the full-size architecture with random weights
(no download) in fp16/bf16 and prints seconds per 2×2 grid and it/s.

Run: .venv/bin/python bench/engine.py [--device cuda --arch sdxl] [--runs N] [--steps N]
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


def bench_grid() -> None:
    import numpy as np
    from PIL import Image

    from engine.grid import compose_grid, encode_png, encode_to_fit

    rng = np.random.default_rng(0)
    # Smooth-ish content with fine noise: closer to real renders than pure noise.
    base = rng.integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    cells = [Image.fromarray(b).resize((1024, 1024), Image.Resampling.BICUBIC) for b in base]
    cells = [
        Image.fromarray(
            np.clip(
                np.asarray(c).astype(int) + rng.integers(-12, 12, (1024, 1024, 3)), 0, 255
            ).astype(np.uint8)
        )
        for c in cells
    ]
    started = time.perf_counter()
    grid = compose_grid(cells)
    composed = time.perf_counter()
    png = encode_png(grid)
    png_done = time.perf_counter()
    fitted = encode_to_fit(grid, 10 * 1024 * 1024)
    fitted_done = time.perf_counter()
    small = encode_to_fit(grid, 8 * 1024 * 1024 // 10)
    small_done = time.perf_counter()
    print(
        f"grid 2048×2048: compose {1000 * (composed - started):.0f} ms, "
        f"PNG {1000 * (png_done - composed):.0f} ms ({len(png) / 2**20:.1f} MiB)"
    )
    print(
        f"  fit 10 MiB: {1000 * (fitted_done - png_done):.0f} ms → {fitted.format}"
        f" q={fitted.quality} {len(fitted.data) / 2**20:.2f} MiB"
    )
    print(
        f"  fit 0.8 MiB: {1000 * (small_done - fitted_done):.0f} ms → {small.format}"
        f" q={small.quality} {len(small.data) / 2**20:.2f} MiB {small.width}×{small.height}"
    )


def main() -> None:
    cli = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    cli.add_argument("--device", default="cpu")
    cli.add_argument("--arch", choices=("tiny", "sd15", "sdxl"), default="tiny")
    cli.add_argument("--runs", type=int, default=5)
    cli.add_argument("--steps", type=int, default=30)
    cli.add_argument("--aspect", default="1:1", help="W:H of the grid images")
    args = cli.parse_args()

    import diffusers.utils.logging
    import torch
    import transformers.utils.logging

    from engine.conditioning import guidance_for_stylize
    from engine.models import load_model, prepare_model, resolve_dtype
    from engine.request import GenerationRequest, WeightedText
    from engine.sizes import size_for_aspect

    torch.set_grad_enabled(False)
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    dtype = resolve_dtype("auto", args.device)
    started = time.perf_counter()
    if args.arch == "tiny":
        model = load_model(
            "builtin:tiny", device=args.device, dtype=dtype, cache_dir=Path(tempfile.mkdtemp())
        )
    else:
        model = prepare_model(
            full_size_pipeline(args.arch, args.device, dtype),
            f"random:{args.arch}",
            device=args.device,
        )
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
    if args.arch == "tiny":
        bench_grid()


if __name__ == "__main__":
    main()
