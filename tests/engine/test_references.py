"""Reference images through IP-Adapter on the tiny models: image prompts, --sref, --cref.

Every adapter must change the image when its scale is above 0 and leave it exactly alone at
0; jobs without references must render exactly as before any adapter was loaded.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.models import LoadedModel, load_model
from engine.operations import render
from engine.references import (
    FACE_SCALE,
    character_scale,
    image_scale,
    load_adapters,
    style_block_scales,
    style_scale,
)
from engine.request import (
    GenerationRequest,
    Operation,
    OutpaintSpec,
    Reference,
    ReferenceRole,
    Strength,
)
from tests.engine.conftest import PROMPT
from tests.engine.helpers import max_diff, mean_diff

IMAGE, STYLE, CHARACTER = ReferenceRole.IMAGE, ReferenceRole.STYLE, ReferenceRole.CHARACTER
BASE = GenerationRequest(prompt=PROMPT, seeds=(7,), count=1, steps=3)
VISIBLE = 0.5
"""Mean 8-bit difference that counts as "the adapter changed the picture"."""


def picture(seed: int, size: int = 96) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)


def with_refs(*references: Reference, **changes: object) -> GenerationRequest:
    return replace(BASE, references=references, **changes)  # type: ignore[arg-type]


def first(model: LoadedModel, request: GenerationRequest) -> Image.Image:
    return render(model, request).images[0]


@pytest.fixture(scope="module", params=["builtin:tiny", "builtin:tiny-sdxl"])
def model(request: pytest.FixtureRequest, model_cache: Path) -> LoadedModel:
    import torch

    loaded = load_model(request.param, device="cpu", dtype=torch.float32, cache_dir=model_cache)
    loaded.adapter_source = "builtin:tiny"
    loaded.cache_dir = model_cache
    return loaded


@pytest.fixture(scope="module")
def baseline(model: LoadedModel) -> Image.Image:
    return first(model, BASE)


@pytest.mark.parametrize("role", [IMAGE, STYLE, CHARACTER])
def test_each_adapter_changes_the_image(
    model: LoadedModel, baseline: Image.Image, role: ReferenceRole
) -> None:
    changed = first(model, with_refs(Reference(role, picture(1))))
    assert mean_diff(changed, baseline) > VISIBLE


@pytest.mark.parametrize(
    ("role", "off"),
    [(IMAGE, {"image_weight": 0.0}), (STYLE, {"style_weight": 0})],
)
def test_zero_weight_is_exactly_no_reference(
    model: LoadedModel, baseline: Image.Image, role: ReferenceRole, off: dict[str, object]
) -> None:
    assert max_diff(first(model, with_refs(Reference(role, picture(1)), **off)), baseline) == 0


def test_jobs_without_references_are_untouched_after_reference_jobs(
    model: LoadedModel, baseline: Image.Image
) -> None:
    first(model, with_refs(Reference(IMAGE, picture(2)), Reference(CHARACTER, picture(3))))
    assert max_diff(first(model, BASE), baseline) == 0


def test_the_weights_set_the_strength(model: LoadedModel, baseline: Image.Image) -> None:
    reference = Reference(IMAGE, picture(1))
    weak = mean_diff(first(model, with_refs(reference, image_weight=0.25)), baseline)
    strong = mean_diff(first(model, with_refs(reference, image_weight=3.0)), baseline)
    assert 0 < weak < strong


def test_character_weight_extremes(model: LoadedModel, baseline: Image.Image) -> None:
    reference = Reference(CHARACTER, picture(4))
    face_only = first(model, with_refs(reference, character_weight=0))
    everything = first(model, with_refs(reference, character_weight=100))
    # --cw 0 still copies the face (the face adapter), --cw 100 adds the whole picture.
    assert mean_diff(face_only, baseline) > VISIBLE
    assert mean_diff(everything, face_only) > VISIBLE


def test_slot_scales_follow_the_weights(model: LoadedModel) -> None:
    adapters = model.references()
    request = with_refs(
        Reference(IMAGE, picture(1)),
        Reference(STYLE, picture(2)),
        Reference(CHARACTER, picture(3)),
        image_weight=2.0,
        style_weight=250,
        character_weight=0,
    )
    pipe = model.text2img
    with adapters.active():
        adapters.prepare(pipe, request, 4)
        scales = {
            name: list(p.scale)
            for name, p in pipe.unet.attn_processors.items()
            if hasattr(p, "scale") and isinstance(p.scale, list)
        }
    style_target = next(iter(style_block_scales(pipe.unet, 1.0)["up"]))  # "block_N"
    block = int(style_target.split("_")[1])
    for name, (image, style, character, face) in scales.items():
        assert image == pytest.approx(image_scale(2.0))
        assert character == 0.0
        assert face == pytest.approx(FACE_SCALE)
        in_style_block = name.startswith(f"up_blocks.{block}.attentions.1.")
        assert style == pytest.approx(style_scale(250) if in_style_block else 0.0)


def test_weighted_image_prompts_combine(model: LoadedModel) -> None:
    a, b = picture(5), picture(6)
    more_a = first(model, with_refs(Reference(IMAGE, a, 3.0), Reference(IMAGE, b, 1.0)))
    more_b = first(model, with_refs(Reference(IMAGE, a, 1.0), Reference(IMAGE, b, 3.0)))
    only_a = first(model, with_refs(Reference(IMAGE, a)))
    assert mean_diff(more_a, more_b) > VISIBLE
    assert mean_diff(more_a, only_a) < mean_diff(more_b, only_a)


def test_three_image_prompts_with_style_and_character(
    model: LoadedModel, baseline: Image.Image
) -> None:
    request = with_refs(
        Reference(IMAGE, picture(1), 2.0),
        Reference(IMAGE, picture(2).convert("L")),
        Reference(IMAGE, picture(3).convert("RGBA")),
        Reference(STYLE, picture(4)),
        Reference(STYLE, code=762351716, weight=0.5),
        Reference(CHARACTER, picture(5, size=300)),
        seeds=(1, 2, 3, 4),
        count=4,
    )
    result = render(model, request)
    assert len(result.images) == 4
    assert result.parameters.references == {
        "images": 3,
        "styles": 2,
        "characters": 1,
        "iw": 1.0,
        "sw": 100,
        "cw": 100,
    }
    assert mean_diff(result.images[0], first(model, replace(BASE, seeds=(1,)))) > VISIBLE


def test_style_codes_are_deterministic_styles(model: LoadedModel) -> None:
    one = first(model, with_refs(Reference(STYLE, code=1)))
    again = first(model, with_refs(Reference(STYLE, code=1)))
    other = first(model, with_refs(Reference(STYLE, code=2)))
    assert max_diff(one, again) == 0
    assert mean_diff(one, other) > VISIBLE


@pytest.mark.parametrize(
    "operation",
    [Operation.VARIATION, Operation.REGION, Operation.OUTPAINT, Operation.UPSCALE],
)
def test_operations_use_references(model: LoadedModel, operation: Operation) -> None:
    source = first(model, BASE)
    mask = Image.new("L", source.size, 0)
    mask.paste(255, (0, 0, source.width // 2, source.height))
    edit = replace(
        BASE,
        operation=operation,
        source=source,
        mask=mask if operation is Operation.REGION else None,
        outpaint=OutpaintSpec(zoom=1.5) if operation is Operation.OUTPAINT else None,
        strength=Strength.STRONG,
    )
    plain = first(model, edit)
    steered = first(model, replace(edit, references=(Reference(IMAGE, picture(8)),)))
    assert mean_diff(plain, steered) > 0.1


def test_scale_curves() -> None:
    assert [image_scale(iw) for iw in (0, 1, 3)] == pytest.approx([0, 0.5, 0.875])
    assert [style_scale(sw) for sw in (0, 100, 500, 1000)] == pytest.approx(
        [0, 0.75, 1.2825, 1.6158], abs=1e-3
    )


def test_style_weight_keeps_changing_the_image_up_to_1000(model: LoadedModel) -> None:
    """--sw used to saturate: 500 → 1000 moved the image by 0.5% of what 0 → 1000 did."""
    reference = Reference(STYLE, picture(1))
    images = {sw: first(model, with_refs(reference, style_weight=sw)) for sw in (0, 100, 500, 1000)}
    moved = [mean_diff(images[sw], images[0]) for sw in (100, 500, 1000)]
    assert moved[0] < moved[1] < moved[2], moved
    assert mean_diff(images[1000], images[500]) > 0.1 * moved[2]
    assert [character_scale(cw) for cw in (0, 100)] == pytest.approx([0, 0.7])


# -- the style block per architecture ---------------------------------------------------------


def sd15_layout_unet() -> object:
    """A tiny UNet with SD 1.5's block layout: no attention in up_blocks.0."""
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        block_out_channels=(4, 8, 8),
        layers_per_block=1,
        sample_size=32,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=8,
        attention_head_dim=2,
        norm_num_groups=2,
    )


def sdxl_layout_unet() -> object:
    """A tiny UNet with SDXL's block layout: attention in up_blocks.0 (three of them)."""
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        block_out_channels=(4, 8, 8),
        layers_per_block=2,
        sample_size=32,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=8,
        attention_head_dim=2,
        norm_num_groups=2,
    )


def test_style_block_is_per_architecture() -> None:
    assert style_block_scales(sd15_layout_unet(), 0.9) == {"up": {"block_1": [0.0, 0.9]}}
    assert style_block_scales(sdxl_layout_unet(), 0.9) == {"up": {"block_0": [0.0, 0.9, 0.0]}}


def test_style_adapter_is_active_on_the_sd15_layout(model_cache: Path, tmp_path: Path) -> None:
    """SD 1.5's style block is up_blocks.1 (up_blocks.0 has no attention, and naming it would
    silently switch the adapter off): a folder of adapters for that layout, loaded through the
    folder path of MJ_IP_ADAPTER, must change the picture."""
    import shutil

    import torch
    from diffusers import StableDiffusionPipeline
    from safetensors.torch import save_file

    from engine.models import prepare_model
    from engine.references import ADAPTER_FILES
    from engine.tiny import build_tiny_pipeline
    from engine.tiny_adapters import _attention, _projection, ensure_tiny_adapters

    parts = build_tiny_pipeline("sd").components
    parts["unet"] = sd15_layout_unet()
    pipe = StableDiffusionPipeline(**parts)
    files = ADAPTER_FILES["sd"]
    shutil.copytree(ensure_tiny_adapters(model_cache) / files.encoder, tmp_path / files.encoder)
    slots = (files.plain, files.plus, files.plus_face)
    for plus, (folder, name) in zip((False, True, True), slots, strict=True):
        torch.manual_seed(1)
        state = {f"image_proj.{k}": v for k, v in _projection(pipe.unet, plus).items()}
        state |= {f"ip_adapter.{k}": v for k, v in _attention(pipe.unet).items()}
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / folder / name)
    model = prepare_model(pipe, "sd15-layout", device="cpu", base_steps=3)
    model._references = load_adapters(pipe, "sd", str(tmp_path), model_cache)
    plain = first(model, BASE)
    styled = first(model, with_refs(Reference(STYLE, picture(1)), style_weight=1000))
    assert mean_diff(plain, styled) > VISIBLE
    assert max_diff(first(model, BASE), plain) == 0


def test_missing_adapter_folder_is_a_clear_error(tiny: LoadedModel, tmp_path: Path) -> None:
    from engine.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="MJ_IP_ADAPTER"):
        load_adapters(tiny.text2img, "sd", str(tmp_path / "nowhere"), tmp_path)
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        load_adapters(tiny.text2img, "sd", str(tmp_path), tmp_path)
    assert tiny.text2img.unet.encoder_hid_proj is None
