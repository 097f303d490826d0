"""Neural style transfer (``Operation.TRANSFER``) on tiny random-filter networks."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from engine.engine import Engine, EngineConfig, estimate_cost
from engine.errors import InvalidRequestError, JobCancelledError, ModelLoadError
from engine.request import (
    GenerationRequest,
    Operation,
    Progress,
    TransferOptimizer,
    TransferSpec,
)
from engine.transfer import BackboneRegistry, describe_backbone, load_backbone, transfer
from engine.transfer.backbone import Backbone, build_features, random_backbone
from engine.transfer.operation import _floats, _tensor
from engine.transfer.optimize import optimise, plan_stages
from tests.engine.helpers import max_diff, pixels

CHROMA_BOUND = 0.01
"""Mean |I|+|Q| difference (``[0, 1]`` RGB) allowed between content and a colour-preserving
result: only rounding and clamping separate them."""


@pytest.fixture(scope="module")
def tiny_vgg() -> Backbone:
    return random_backbone(8)


def content_image(width: int = 64, height: int = 64) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    u, v = x / width, y / height
    rgb = np.stack([0.2 + 0.3 * u, 0.3 + 0.4 * v, 0.8 - 0.3 * u], -1)
    rgb[(u - 0.5) ** 2 + (v - 0.5) ** 2 < 0.08] = (0.9, 0.85, 0.2)
    return Image.fromarray((rgb * 255).astype(np.uint8))


def style_image(side: int = 64) -> Image.Image:
    y, x = np.mgrid[0:side, 0:side]
    wave = 0.5 + 0.5 * np.sin(x / 3 + np.sin(y / 5))
    rgb = np.stack([wave, 0.2 + 0 * wave, 1 - wave], -1)
    return Image.fromarray((rgb * 255).astype(np.uint8))


def request(**spec: Any) -> GenerationRequest:
    content = spec.pop("content", content_image())
    spec.setdefault("steps", 6)
    return GenerationRequest(
        operation=Operation.TRANSFER,
        source=content,
        seed=spec.pop("seed", 7),
        transfer=TransferSpec(style=spec.pop("style", style_image()), **spec),
    )


def tensors(content: Image.Image, style: Image.Image) -> tuple[Any, Any]:
    return _tensor(_floats(content), "cpu"), _tensor(_floats(style), "cpu")


@pytest.mark.parametrize("optimizer", list(TransferOptimizer))
def test_transfer_style_loss_falls_90_percent_in_50_steps(
    tiny_vgg: Backbone, optimizer: TransferOptimizer
) -> None:
    content, style = tensors(content_image(), style_image())
    outcome = optimise(
        tiny_vgg, content, style, plan_stages((64, 64), 50), ratio=30, optimizer=optimizer, seed=1
    )
    assert outcome.steps_run == 50
    assert outcome.style_losses[-1] <= 0.1 * outcome.style_losses[0]


def test_transfer_keeps_more_content_than_a_run_from_the_style(tiny_vgg: Backbone) -> None:
    content, style = tensors(content_image(), style_image())
    stages = plan_stages((64, 64), 30)
    lbfgs = TransferOptimizer.LBFGS
    ours = optimise(tiny_vgg, content, style, stages, ratio=30, optimizer=lbfgs, seed=1)
    from_style = optimise(
        tiny_vgg, content, style, stages, ratio=30, optimizer=lbfgs, seed=1, start=style
    )
    assert ours.content_losses[-1] < from_style.content_losses[-1]


def test_transfer_result_has_the_contents_size(tiny_vgg: Backbone) -> None:
    result = transfer(tiny_vgg, request(content=content_image(96, 64)))
    assert result.images[0].size == (96, 64)
    assert (result.width, result.height) == (96, 64)
    assert result.seeds == (7,)
    assert result.steps_run == 6
    assert result.model == tiny_vgg.name
    assert result.parameters.operation == "transfer"
    assert result.parameters.transfer["strength"] == 100
    assert result.parameters.to_json()["transfer"]["optimizer"] == "lbfgs"


def test_transfer_size_sets_the_long_side_and_is_checked(tiny_vgg: Backbone) -> None:
    result = transfer(tiny_vgg, request(content=content_image(96, 64), size=72, steps=1))
    assert result.images[0].size == (72, 48)
    with pytest.raises(InvalidRequestError, match="64–2048"):
        transfer(tiny_vgg, request(size=32))


def test_transfer_same_seed_same_pixels(tiny_vgg: Backbone) -> None:
    first = transfer(tiny_vgg, request(seed=3)).images[0]
    again = transfer(tiny_vgg, request(seed=3)).images[0]
    other = transfer(tiny_vgg, request(seed=4)).images[0]
    assert max_diff(first, again) == 0
    assert max_diff(first, other) > 0


def mean_chroma_difference(a: Image.Image, b: Image.Image) -> float:
    to_iq = np.array([[0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])
    difference = (pixels(a) - pixels(b)) / 255.0
    return float(np.abs(difference @ to_iq.T).sum(-1).mean())


def test_transfer_preserve_colors_keeps_the_contents_chroma(tiny_vgg: Backbone) -> None:
    content = content_image()
    kept = transfer(tiny_vgg, request(preserve_colors=True, steps=20)).images[0]
    styled = transfer(tiny_vgg, request(steps=20)).images[0]
    assert mean_chroma_difference(kept, content) < CHROMA_BOUND
    assert mean_chroma_difference(styled, content) > 3 * CHROMA_BOUND
    assert max_diff(kept, content) > 10  # the luminance did change


def test_transfer_strength_zero_returns_the_content(tiny_vgg: Backbone) -> None:
    content = content_image()
    result = transfer(tiny_vgg, request(strength=0))
    assert max_diff(result.images[0], content) == 0
    assert result.steps_run == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"style": content_image()}, "the content and style images are the same image"),
        ({"strength": 1001}, "0–1000"),
        ({"steps": 0}, "at least 1 step"),
        ({"content": content_image(40, 40)}, "too small"),
    ],
)
def test_transfer_refuses_what_it_cannot_render(
    tiny_vgg: Backbone, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        transfer(tiny_vgg, request(**changes))
    with pytest.raises(InvalidRequestError, match="style image"):
        transfer(tiny_vgg, GenerationRequest(operation=Operation.TRANSFER, source=content_image()))


def test_transfer_cancel_stops_within_a_step(tiny_vgg: Backbone) -> None:
    cancel = threading.Event()
    steps: list[int] = []

    def on_progress(progress: Progress) -> None:
        steps.append(progress.step)
        if progress.step == 2:
            cancel.set()

    with pytest.raises(JobCancelledError):
        transfer(tiny_vgg, request(steps=20), cancel=cancel, on_progress=on_progress)
    assert steps == [1, 2]


def vgg19_state(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Random weights under VGG19's real key names (``features.N.weight``/``bias``)."""
    state = {f"features.{k}": v.clone() for k, v in build_features(1, 37).state_dict().items()}
    return {**state, **(extra or {})}


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import torch
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("vgg19")
    head = {"pre_logits.fc1.weight": torch.zeros(8, 4), "head.fc.weight": torch.zeros(10, 8)}
    timm, tv = folder / "model.safetensors", folder / "vgg19-dcbb9e9d.pth"
    save_file(vgg19_state(head), str(timm))
    torch.save({**vgg19_state(), "classifier.0.weight": torch.zeros(4, 4)}, tv)
    bad = vgg19_state()
    bad["features.28.weight"] = torch.zeros(512, 256, 3, 3)
    torch.save(bad, folder / "misshaped.pth")
    missing = vgg19_state()
    del missing["features.21.bias"]
    save_file(missing, str(folder / "missing.safetensors"))
    return {p.stem: p for p in folder.iterdir()}


@pytest.mark.parametrize("name", ["model", "vgg19-dcbb9e9d"])
def test_transfer_loads_torchvision_and_timm_weights(
    weight_files: dict[str, Path], name: str
) -> None:
    import torch
    from safetensors import safe_open

    backbone = load_backbone(str(weight_files[name]))
    if name == "model":
        with safe_open(str(weight_files[name]), framework="pt") as handle:
            expected = handle.get_tensor("features.28.weight")
    else:
        expected = torch.load(weight_files[name], weights_only=True)["features.28.weight"]
    assert torch.equal(backbone.network[28].weight, expected)
    assert len(backbone.network) == 30  # built only as deep as the losses read
    assert backbone.name.startswith("vgg19:")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("misshaped", r"misshaped\.pth is not VGG19 weights: features\.28\.weight has shape"),
        ("missing", r"missing\.safetensors .*features\.21\.bias is missing"),
    ],
)
def test_transfer_bad_weights_fail_clearly(
    weight_files: dict[str, Path], name: str, message: str
) -> None:
    with pytest.raises(ModelLoadError, match=message):
        load_backbone(str(weight_files[name]))
    with pytest.raises(ModelLoadError, match="do not exist"):
        load_backbone("/nowhere/vgg19.pth")


def test_transfer_hub_id_uses_the_cache_or_fails_clearly(
    weight_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: weight_files["model"])
    assert load_backbone("timm/vgg19.tv_in1k").name == "vgg19:timm/vgg19.tv_in1k"

    def offline(*args: object, **kwargs: object) -> str:
        raise LocalEntryNotFoundError("offline")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(ModelLoadError, match="not in the local Hub cache"):
        load_backbone("timm/vgg19.tv_in1k")


def test_transfer_announces_its_backbone() -> None:
    assert "built-in random-filter network" in describe_backbone(None)
    assert "MJ_VGG19" in describe_backbone(None)
    assert "timm/vgg19.tv_in1k" in describe_backbone("timm/vgg19.tv_in1k")


def test_transfer_cost_grows_with_pixels_and_steps() -> None:
    content = content_image(512, 512)
    small = estimate_cost(request(steps=100, content=content))
    assert small > 0.01
    assert estimate_cost(request(steps=200, content=content)) == pytest.approx(2 * small)
    big = request(steps=100, content=content_image(1024, 1024))
    assert estimate_cost(big) == pytest.approx(4 * small)
    assert estimate_cost(request(steps=100, strength=0, content=content)) == 0.01


async def test_transfer_through_the_engine(tmp_path: Path, tiny_vgg: Backbone) -> None:
    engine = Engine(EngineConfig(devices=("cpu",), cache_dir=tmp_path))
    worker = engine.workers[0]
    worker.backbones = BackboneRegistry(device="cpu")
    worker.backbones.add(tiny_vgg)
    await engine.start(warm_up=False)
    loop_thread = threading.get_ident()
    seen: list[tuple[int, int, bool]] = []

    def on_progress(progress: Progress) -> None:
        seen.append((progress.step, threading.get_ident(), progress.preview is not None))

    try:
        handle = engine.submit(request(steps=16), on_progress=on_progress)
        result = await asyncio.wait_for(handle.future, 60)
    finally:
        await engine.close()
    assert result.images[0].size == (64, 64)
    assert result.model == tiny_vgg.name
    assert [step for step, _, _ in seen] == [*range(1, 17), 16]
    assert {thread for _, thread, _ in seen} == {loop_thread}
    assert sum(preview for _, _, preview in seen) >= 3
    assert worker.registry._loaded == {}  # no diffusion model was loaded for it


def landscape(width: int = 160, height: int = 112) -> Image.Image:
    """Sky, sun, hills and a house: flat regions and sharp edges, like a drawing."""
    from PIL import ImageDraw

    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / height
        draw.line([(0, y), (width, y)], fill=(int(120 + 100 * t), int(170 + 60 * t), 235))
    u, v = width / 320, height / 224
    draw.ellipse((230 * u, 30 * v, 280 * u, 80 * v), fill=(250, 210, 80))
    hills = [(0, 150), (90, 100), (200, 160), (320, 110), (320, 224), (0, 224)]
    draw.polygon([(x * u, y * v) for x, y in hills], fill=(70, 140, 70))
    draw.rectangle((60 * u, 130 * v, 130 * u, 190 * v), fill=(200, 90, 60))
    draw.polygon([(52 * u, 132 * v), (95 * u, 95 * v), (138 * u, 132 * v)], fill=(120, 50, 40))
    return image


def strokes(side: int = 128) -> Image.Image:
    """Bold diagonal strokes in five colours on a dark ground."""
    from PIL import ImageDraw

    rng = np.random.default_rng(7)
    image = Image.new("RGB", (side, side), (20, 30, 60))
    draw = ImageDraw.Draw(image)
    palette = [(240, 150, 40), (40, 90, 200), (250, 230, 200), (200, 60, 40), (30, 160, 190)]
    for _ in range(side):
        x, y = rng.integers(-10, side + 10, 2)
        length, angle = rng.integers(8, 22), rng.normal(0.8, 0.3)
        end = (x + length * np.cos(angle), y + length * np.sin(angle))
        colour = palette[rng.integers(len(palette))]
        draw.line([(x, y), end], fill=colour, width=int(rng.integers(2, 5)))
    return image


def test_transfer_strength_trades_content_for_style_without_collapsing() -> None:
    """Up the strength curve the content loss rises while the style loss stays at ≤ 1% of its
    start, and the image stays the content's (its luminance correlates with the content's).
    Clamping pixels between L-BFGS steps once broke this (at 320×224, strength 300 gave a
    black image and 1000 noise)."""
    from engine.transfer.backbone import BUILTIN_WIDTH_DIVISOR
    from engine.transfer.losses import style_ratio

    backbone = random_backbone(BUILTIN_WIDTH_DIVISOR)  # the built-in default network
    content, style = tensors(landscape(), strokes())
    luminance = np.asarray(landscape().convert("L"), dtype=float)
    content_losses = []
    for strength in (100, 300, 1000):
        outcome = optimise(
            backbone,
            content,
            style,
            plan_stages((160, 112), 100),
            ratio=style_ratio(strength),
            optimizer=TransferOptimizer.LBFGS,
            seed=1,
        )
        content_losses.append(outcome.content_losses[-1])
        result = outcome.image[0].permute(1, 2, 0).numpy() @ np.array([0.299, 0.587, 0.114])
        assert np.corrcoef(result.ravel(), luminance.ravel())[0, 1] > 0.35, strength
        assert outcome.style_losses[-1] < 0.01 * outcome.style_losses[0], strength
    assert content_losses == sorted(content_losses)
