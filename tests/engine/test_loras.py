"""``--lora``: a LoRA file from the folder changes its job by its weight, and only its job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InvalidRequestError
from engine.loras import LoraLibrary, LoraUse
from engine.models import LoadedModel, load_model
from engine.operations import render
from engine.request import GenerationRequest, GenerationResult
from tests.engine.conftest import PROMPT
from tests.engine.helpers import mean_diff


def _save_lora(model_cache: Path, folder: Path, name: str, seed: int) -> Path:
    """A rank-4 LoRA on a separate copy of the tiny model's U-Net attention, its up-projections
    drawn at random (peft starts them at zero, which would change nothing)."""
    import torch
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    copy = load_model("builtin:tiny", device="cpu", dtype=torch.float32, cache_dir=model_cache)
    unet = copy.text2img.unet
    unet.add_adapter(
        LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    )
    generator = torch.Generator("cpu").manual_seed(seed)
    with torch.no_grad():
        for module_name, parameter in unet.named_parameters():
            if "lora_B" in module_name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    folder.mkdir(exist_ok=True)
    StableDiffusionPipeline.save_lora_weights(
        folder,
        unet_lora_layers=get_peft_model_state_dict(unet),
        weight_name=f"{name}.safetensors",
    )
    return folder / f"{name}.safetensors"


@pytest.fixture(scope="module")
def library(model_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> LoraLibrary:
    folder = tmp_path_factory.mktemp("loras")
    _save_lora(model_cache, folder, "ink", seed=1)
    _save_lora(model_cache, folder, "wc_v2", seed=2)
    manifest = {"watercolor": {"file": "wc_v2.safetensors", "weight": 0.8, "trigger": "wtrclr"}}
    (folder / "loras.json").write_text(json.dumps(manifest))
    return LoraLibrary(folder)


def _imagine(model: LoadedModel, library: LoraLibrary, *loras: LoraUse) -> GenerationResult:
    request = GenerationRequest(prompt=PROMPT, seeds=(5,), count=1, steps=4, loras=loras)
    return render(model, request, loras=library)


def test_the_weight_scales_the_change_and_zero_is_the_base_model(
    tiny: LoadedModel, library: LoraLibrary
) -> None:
    base = _imagine(tiny, library).images[0]
    off = _imagine(tiny, library, LoraUse("ink", 0.0)).images[0]
    half = _imagine(tiny, library, LoraUse("ink", 0.5)).images[0]
    full = _imagine(tiny, library, LoraUse("ink", 1.0))
    assert np.array_equal(np.asarray(off), np.asarray(base))
    assert 0 < mean_diff(half, base) < mean_diff(full.images[0], base)
    assert mean_diff(full.images[0], base) > 2
    assert full.parameters.loras == {"ink": 1.0}


def test_a_job_after_a_lora_job_renders_bit_identically(
    tiny: LoadedModel, library: LoraLibrary
) -> None:
    before = _imagine(tiny, library).images[0]
    _imagine(tiny, library, LoraUse("ink", 1.0), LoraUse("watercolor"))
    after = _imagine(tiny, library).images[0]
    assert np.array_equal(np.asarray(after), np.asarray(before))
    assert not any("lora" in name for name, _ in tiny.text2img.unet.named_parameters())


def test_the_manifest_names_files_and_gives_weights_and_trigger_words(
    tiny: LoadedModel, library: LoraLibrary
) -> None:
    assert [(e.name, e.path.name, e.weight) for e in library.entries()] == [
        ("ink", "ink.safetensors", 1.0),
        ("watercolor", "wc_v2.safetensors", 0.8),
        ("wc_v2", "wc_v2.safetensors", 1.0),
    ]
    result = _imagine(tiny, library, LoraUse("watercolor"))
    assert result.parameters.loras == {"watercolor": 0.8}
    assert ("wtrclr", 1.0) in result.parameters.prompt  # its trigger word, added


def test_unknown_loras_and_a_missing_folder_are_named(
    tiny: LoadedModel, library: LoraLibrary
) -> None:
    with pytest.raises(InvalidRequestError, match=r"--lora nope: no such LoRA; available: ink, "):
        _imagine(tiny, library, LoraUse("nope"))
    request = GenerationRequest(
        prompt=PROMPT, seeds=(5,), count=1, steps=4, loras=(LoraUse("ink"),)
    )
    with pytest.raises(InvalidRequestError, match="no LoRA folder"):
        render(tiny, request)


def test_a_file_that_is_not_a_lora_is_refused_and_leaves_the_model_clean(
    tiny: LoadedModel, tmp_path: Path
) -> None:
    (tmp_path / "broken.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(InvalidRequestError, match=r"broken\.safetensors is not a LoRA"):
        _imagine(tiny, LoraLibrary(tmp_path), LoraUse("broken"))
    assert not any("lora" in name for name, _ in tiny.text2img.unet.named_parameters())
