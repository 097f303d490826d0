"""Loading models: folders, single files, versions, devices and derived pipelines."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.errors import ModelLoadError, UnknownVersionError
from engine.models import (
    Architecture,
    LoadedModel,
    ModelCatalog,
    ModelRegistry,
    load_model,
    resolve_device,
    resolve_dtype,
)
from engine.operations import render
from engine.request import GenerationRequest
from tests.engine.conftest import PROMPT
from tests.engine.helpers import max_diff
from tests.engine.ldm_export import save_single_file


def test_builtin_models_detect_their_architecture(
    tiny: LoadedModel, tiny_sdxl: LoadedModel
) -> None:
    assert tiny.architecture is Architecture.SD
    assert tiny_sdxl.architecture is Architecture.SDXL
    assert tiny.vae_scale_factor == 8
    assert tiny.native == 256


def test_builtin_model_is_cached_under_the_data_folder(
    model_cache: Path, tiny: LoadedModel
) -> None:
    folders = [p for p in model_cache.iterdir() if p.name.startswith("builtin-tiny-sd-")]
    assert len(folders) == 1
    assert (folders[0] / "model_index.json").exists()


def test_pipeline_saved_to_a_folder_loads_back(tiny: LoadedModel, tmp_path: Path) -> None:
    tiny.text2img.save_pretrained(tmp_path / "saved")
    loaded = load_model(
        str(tmp_path / "saved"), device="cpu", dtype=torch.float32, cache_dir=tmp_path
    )
    request = GenerationRequest(prompt=PROMPT, seed=4, count=1, steps=8)
    assert max_diff(render(loaded, request).images[0], render(tiny, request).images[0]) == 0


def test_single_file_checkpoint_loads_with_local_configs(tiny: LoadedModel, tmp_path: Path) -> None:
    checkpoint = tmp_path / "tiny.safetensors"
    save_single_file(tiny.text2img, checkpoint)
    configs = tmp_path / "configs"
    tiny.text2img.save_pretrained(configs)
    for weights in configs.rglob("*.safetensors"):
        weights.unlink()  # configs only, as an admin would provide them
    loaded = load_model(
        str(checkpoint),
        device="cpu",
        dtype=torch.float32,
        cache_dir=tmp_path,
        single_file_config=configs,
    )
    original = tiny.text2img.unet.state_dict()
    assert all(torch.equal(v, original[k]) for k, v in loaded.text2img.unet.state_dict().items())
    request = GenerationRequest(prompt=PROMPT, seed=4, count=1, steps=8)
    assert max_diff(render(loaded, request).images[0], render(tiny, request).images[0]) == 0


def test_single_file_without_configs_is_a_clear_error(tiny: LoadedModel, tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.safetensors"
    save_single_file(tiny.text2img, checkpoint)
    with pytest.raises(ModelLoadError, match="MJ_MODEL_CONFIG"):
        load_model(str(checkpoint), device="cpu", dtype=torch.float32, cache_dir=tmp_path)


def test_missing_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "nowhere"), device="cpu", dtype=torch.float32, cache_dir=tmp_path)
    with pytest.raises(ModelLoadError):  # offline: a Hub id that is not cached
        load_model(
            "someone/not-a-cached-model", device="cpu", dtype=torch.float32, cache_dir=tmp_path
        )


def test_catalog_maps_versions_and_refuses_unknown_ones() -> None:
    catalog = ModelCatalog({"default": "a", "6.1": "b", "niji": "c"})
    assert catalog.source_for(None) == "a"
    assert catalog.source_for("6.1") == "b"
    assert catalog.source_for("niji 6") == "c"
    with pytest.raises(UnknownVersionError, match="--v 5 is not available"):
        catalog.source_for("5")


def test_registry_loads_each_model_once(model_cache: Path) -> None:
    registry = ModelRegistry(
        ModelCatalog({"default": "builtin:tiny", "6": "builtin:tiny"}),
        device="cpu",
        dtype=torch.float32,
        cache_dir=model_cache,
    )
    assert registry.get(None) is registry.get("6")


def test_derived_pipelines_share_weights_and_keep_dtype(model_cache: Path) -> None:
    model = load_model("builtin:tiny", device="cpu", dtype=torch.bfloat16, cache_dir=model_cache)
    assert model.img2img().unet is model.text2img.unet
    assert model.inpaint().vae is model.text2img.vae
    assert model.text2img.unet.dtype == torch.bfloat16


def test_device_and_dtype_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"  # CUDA first, whatever else there is
    assert resolve_device("cuda:1") == "cuda:1"
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "mps") == torch.float16
    assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    with pytest.raises(ModelLoadError):
        resolve_dtype("float8", "cpu")
