"""Speed options: parsed strictly, applied to the shared modules, images unchanged within
stated tolerances, nothing applied by default; the compile is requested and warmed up."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from engine.models import LoadedModel, ModelCatalog, ModelRegistry, load_model
from engine.operations import render
from engine.request import GenerationRequest
from engine.speed import (
    COMPILE_MODE,
    OPTION_HELP,
    SpeedOptionError,
    SpeedOptions,
    apply_speed,
    needs_vae_tiling,
    parse_speed,
    unfuse_qkv,
)
from tests.engine.conftest import PROMPT
from tests.engine.helpers import max_diff

GB = 10**9


def _load(model_cache: Path, speed: SpeedOptions | None = None) -> LoadedModel:
    import torch

    return load_model(
        "builtin:tiny", device="cpu", dtype=torch.float32, cache_dir=model_cache, speed=speed
    )


def _grid(model: LoadedModel) -> list[Any]:
    request = GenerationRequest(prompt=PROMPT, seed=7, steps=4)
    return list(render(model, request).images)


def _worst(a: list[Any], b: list[Any]) -> int:
    return max(max_diff(x, y) for x, y in zip(a, b, strict=True))


def _processors(model: LoadedModel) -> set[str]:
    return {type(p).__name__ for p in model.text2img.unet.attn_processors.values()}


def test_parse_speed_reads_a_comma_list() -> None:
    options = parse_speed(" bf16, compile ")
    assert options == SpeedOptions(bf16=True, compile=True)
    assert options.names == ("bf16", "compile")
    assert parse_speed(",".join(OPTION_HELP)).names == tuple(OPTION_HELP)


@pytest.mark.parametrize("text", ["", "none", " , "])
def test_parse_speed_empty_turns_nothing_on(text: str) -> None:
    assert parse_speed(text) == SpeedOptions()
    assert SpeedOptions().names == ()


def test_parse_speed_unknown_option_is_named_with_the_valid_ones() -> None:
    with pytest.raises(SpeedOptionError) as caught:
        parse_speed("bf16,channel_last")
    message = str(caught.value)
    assert "'channel_last'" in message
    assert "did you mean channels_last?" in message
    assert "bf16, channels_last, fused_qkv, sdpa, compile" in message


def test_parse_speed_refuses_an_option_named_twice() -> None:
    with pytest.raises(SpeedOptionError, match="'bf16' is named twice"):
        parse_speed("bf16,bf16")


def test_speed_options_refuse_an_unknown_compile_mode() -> None:
    with pytest.raises(SpeedOptionError, match="unknown compile mode 'fastest'"):
        SpeedOptions(compile=True, compile_mode="fastest")


def test_default_speed_applies_nothing(tiny: LoadedModel, model_cache: Path) -> None:
    import torch

    registry = ModelRegistry(
        ModelCatalog({"default": "builtin:tiny"}),
        device="cpu",
        dtype=torch.float32,
        cache_dir=model_cache,
        speed=SpeedOptions(),
    )
    model = registry.get(None)
    assert model.speed is None
    assert tiny.speed is None
    assert model.dtype == torch.float32
    assert _processors(model) == {"AttnProcessor2_0"}
    assert model.text2img.unet.conv_in.weight.is_contiguous()
    assert _grid(model) == _grid(tiny)  # bit-identical pixels


def test_channels_last_is_set_on_unet_and_vae_weights(model_cache: Path) -> None:
    import torch

    model = _load(model_cache, parse_speed("channels_last"))
    channels_last = torch.channels_last
    assert model.text2img.unet.conv_in.weight.is_contiguous(memory_format=channels_last)
    assert model.text2img.vae.decoder.conv_in.weight.is_contiguous(memory_format=channels_last)
    assert model.speed is not None
    assert model.speed.applied == ("channels_last",)
    # Measured on this CPU: float outputs within 1.7e-6 of the default layout's (other
    # kernels, same sums), 1 level of 255 at most in pixels.
    assert _worst(_grid(model), _grid(_load(model_cache))) <= 1


def test_fused_qkv_gives_the_unfused_images(model_cache: Path) -> None:
    model = _load(model_cache, parse_speed("fused_qkv"))
    assert _processors(model) == {"GuardedFusedAttnProcessor2_0"}
    assert model.speed is not None
    assert model.speed.applied == ("fused_qkv",)
    fused = _grid(model)
    unfuse_qkv(model.text2img)
    assert _processors(model) == {"AttnProcessor2_0"}
    # Measured on this CPU: float outputs within 1.3e-6 of the unfused ones (the same sums
    # in another order), 1 level of 255 at most in pixels.
    assert _worst(fused, _grid(model)) <= 1


def test_fused_qkv_reaches_pipelines_sharing_the_unet_only(model_cache: Path) -> None:
    model = _load(model_cache, parse_speed("fused_qkv"))
    img2img = model.img2img()
    assert img2img.unet is model.text2img.unet
    assert {type(p).__name__ for p in img2img.unet.attn_processors.values()} == {
        "GuardedFusedAttnProcessor2_0"
    }
    assert _processors(_load(model_cache)) == {"AttnProcessor2_0"}  # a model of its own


def test_fused_qkv_honours_a_lora(model_cache: Path) -> None:
    """The fused projection is a copy without the adapter: a LoRA job must not lose it."""
    import torch
    from peft import LoraConfig

    model = _load(model_cache, parse_speed("fused_qkv"))
    plain = _grid(model)
    unet = model.text2img.unet
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v"]))
    generator = torch.Generator("cpu").manual_seed(3)
    with torch.no_grad():
        for name, parameter in unet.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    with_lora = _grid(model)
    unfuse_qkv(model.text2img)
    assert _worst(with_lora, _grid(model)) <= 1
    assert _worst(with_lora, plain) > 10


def test_fused_qkv_self_attention_over_other_tokens(model_cache: Path) -> None:
    """Reference-only attention (engine.mimic) gives a self-attention extra tokens to attend
    over; a fused self-attention has no key-value layer for them: the unfused path runs."""
    import torch
    from diffusers.models.attention_processor import AttnProcessor2_0

    model = _load(model_cache, parse_speed("fused_qkv"))
    attention = next(
        m
        for m in model.text2img.unet.modules()
        if type(m).__name__ == "Attention" and not m.is_cross_attention
    )
    generator = torch.Generator("cpu").manual_seed(0)
    own = torch.randn(2, 16, attention.to_q.in_features, generator=generator)
    both = torch.cat([own, torch.randn(own.shape, generator=generator)], dim=1)
    with torch.no_grad():
        fused = attention.processor(attention, own, both)
        unfused = AttnProcessor2_0()(attention, own, both)
        alone = attention.processor(attention, own)
        alone_unfused = AttnProcessor2_0()(attention, own)
    assert torch.equal(fused, unfused)
    assert torch.allclose(alone, alone_unfused, atol=1e-6)


def test_sdpa_is_reported_and_plain_attention_moved_to_it(model_cache: Path) -> None:
    from diffusers.models.attention_processor import AttnProcessor

    model = _load(model_cache)
    pipe = model.text2img
    unet_count = len(pipe.unet.attn_processors)
    report = apply_speed(pipe, SpeedOptions())
    assert report.applied == ()
    assert report.sdpa
    vae_count = len(pipe.vae.attn_processors)  # encoder and decoder: one each
    assert report.attention == f"AttnProcessor2_0 ×{unet_count + vae_count}"
    assert report.kernel == "flash (CPU)" == _kernel_run_by_sdpa(pipe.unet)
    pipe.unet.set_attn_processor(AttnProcessor())
    assert not apply_speed(pipe, SpeedOptions()).sdpa
    report = apply_speed(pipe, parse_speed("sdpa"))
    assert report.sdpa
    assert report.applied == ("sdpa",)
    assert f"{unet_count} plain attention processors moved to SDPA" in report.describe()


def _kernel_run_by_sdpa(unet: Any) -> str:
    """What the profiler sees the UNet's first attention run: the report's cross-check."""
    import torch

    attention = next(
        m for m in unet.modules() if type(m).__name__ == "Attention" and not m.is_cross_attention
    )
    hidden = torch.zeros(1, 64, attention.to_q.in_features)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        attention(hidden)
    names = {event.name for event in profile.events()}
    if "aten::_scaled_dot_product_flash_attention_for_cpu" in names:
        return "flash (CPU)"
    return "other: " + ", ".join(sorted(n for n in names if "scaled_dot" in n))


def test_report_says_what_was_not_supported(model_cache: Path, monkeypatch: Any) -> None:
    pipe = _load(model_cache).text2img

    def refuse() -> None:
        raise ValueError("not supported for models having added KV projections")

    monkeypatch.setattr(pipe.unet, "fuse_qkv_projections", refuse)
    report = apply_speed(pipe, parse_speed("channels_last,fused_qkv"))
    assert report.applied == ("channels_last",)
    assert report.unsupported == (
        "fused_qkv: not supported for models having added KV projections",
    )
    assert "not supported: fused_qkv" in report.describe()
    assert _processors_of(pipe) == {"AttnProcessor2_0"}


def _processors_of(pipe: Any) -> set[str]:
    return {type(p).__name__ for p in pipe.unet.attn_processors.values()}


def test_bf16_loads_the_registry_models_in_bfloat16(model_cache: Path) -> None:
    import torch

    registry = ModelRegistry(
        ModelCatalog({"default": "builtin:tiny"}),
        device="cpu",
        dtype=torch.float32,
        cache_dir=model_cache,
        speed=parse_speed("bf16"),
    )
    model = registry.get(None)
    assert model.dtype == torch.bfloat16
    assert model.speed is not None
    assert model.speed.applied == ("bf16",)
    assert model.speed.dtype == "bfloat16"
    assert len(_grid(model)) == 4


def test_compile_is_requested_and_warmed_up_at_load(model_cache: Path, monkeypatch: Any) -> None:
    """torch.compile is mocked here (the real one takes 80 s on this CPU: see below); the
    warm-up must run one grid-shaped pipeline call at the native size while loading."""
    import engine.speed

    calls: list[tuple[int, ...]] = []
    modes: list[str] = []

    def fake_compile(unet: Any, mode: str) -> None:
        modes.append(mode)
        unet.register_forward_pre_hook(lambda _, args: calls.append(tuple(args[0].shape)))

    monkeypatch.setattr(engine.speed, "_compile_unet", fake_compile)
    model = _load(model_cache, parse_speed("compile"))
    assert modes == [COMPILE_MODE]
    assert calls == [(8, 4, 32, 32)] * 2  # one call: 2 steps, 4 images × 2 for guidance
    assert model.speed is not None
    assert model.speed.applied == ("compile",)
    assert model.speed.warm_up_s is not None
    assert "compile warm-up" in model.speed.describe()


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("MJ_TEST_COMPILE"), reason="set MJ_TEST_COMPILE=1")
def test_compiled_unet_gives_the_eager_images(model_cache: Path) -> None:
    """The real torch.compile (inductor, C++ on CPU): about 80 s of warm-up on 2 cores."""
    eager = _grid(_load(model_cache))
    model = _load(model_cache, parse_speed("compile"))
    started = time.perf_counter()
    compiled = _grid(model)
    assert time.perf_counter() - started < 10  # warmed up: no compile in the job
    assert _worst(compiled, eager) <= 1


@pytest.mark.parametrize(
    ("size", "count", "free", "tiled"),
    [
        ((256, 256), 4, None, False),  # a grid at the native size (256), no memory figure
        ((384, 192), 4, None, False),  # another aspect ratio
        ((512, 512), 1, None, True),  # a 2× upscale, as today
        ((1024, 1024), 4, 80 * GB, False),  # an SDXL grid in bf16: about 13 GB
        ((1024, 1024), 4, 8 * GB, True),  # the same on a small card
        ((2048, 2048), 4, 80 * GB, False),  # four 2× SDXL upscales: about 50 GB
        ((2048, 2048), 4, 24 * GB, True),
    ],
)
def test_vae_tiling_only_when_needed(
    size: tuple[int, int], count: int, free: int | None, tiled: bool
) -> None:
    import torch

    device = "cpu" if free is None else "cuda"
    decision = needs_vae_tiling(
        size, count, native=256, device=device, dtype=torch.bfloat16, free_bytes=free
    )
    assert decision is tiled
