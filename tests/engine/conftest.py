"""Tiny models shared by the engine tests (built once per session, offline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.models import LoadedModel, load_model
from engine.request import WeightedText

PROMPT = (WeightedText("a red fox in the snow"),)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny(model_cache: Path) -> LoadedModel:
    import torch

    return load_model("builtin:tiny", device="cpu", dtype=torch.float32, cache_dir=model_cache)


@pytest.fixture(scope="session")
def tiny_sdxl(model_cache: Path) -> LoadedModel:
    import torch

    return load_model("builtin:tiny-sdxl", device="cpu", dtype=torch.float32, cache_dir=model_cache)
