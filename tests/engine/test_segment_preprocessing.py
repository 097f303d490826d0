"""A segmentation model's own ``preprocessor_config.json`` decides how pictures are normalised
(RMBG-1.4: mean 0.5, std 1.0, where BiRefNet and RMBG-2.0 want ImageNet's): a saved
remote-code model that answers "subject" where the normalised red channel is above 0."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.errors import ModelLoadError
from engine.structure.segment import IMAGENET_MEAN, TransformersSegmenter, subject_mask
from engine.structure.sources import ImagePreprocessing

CONFIG_CODE = """
from transformers import PretrainedConfig


class ProbeConfig(PretrainedConfig):
    model_type = "mjbot-probe"
"""

MODEL_CODE = """
import torch
from transformers import PreTrainedModel

from .configuration_probe import ProbeConfig


class ProbeModel(PreTrainedModel):
    config_class = ProbeConfig

    def __init__(self, config):
        super().__init__(config)
        self.gain = torch.nn.Parameter(torch.tensor(100.0))
        self.seen = None
        self.post_init()

    def forward(self, pixel_values):
        self.seen = tuple(pixel_values.shape)
        return self.gain * pixel_values[:, :1]  # logits: subject where red is above the mean
"""

RMBG_14 = {  # as briaai/RMBG-1.4 ships it, but 64×48
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [1, 1, 1],
    "rescale_factor": 0.00392156862745098,
    "size": {"height": 48, "width": 64},
}


@pytest.fixture
def probe_folder(tmp_path: Path) -> Path:
    code = tmp_path / "mjprobe"
    code.mkdir()
    (code / "__init__.py").write_text("")
    (code / "configuration_probe.py").write_text(CONFIG_CODE)
    (code / "modeling_probe.py").write_text(MODEL_CODE)
    sys.path.insert(0, str(tmp_path))
    try:
        configuration = importlib.import_module("mjprobe.configuration_probe")
        modeling = importlib.import_module("mjprobe.modeling_probe")
        configuration.ProbeConfig.register_for_auto_class()
        modeling.ProbeModel.register_for_auto_class("AutoModelForImageSegmentation")
        folder = tmp_path / "probe-model"
        modeling.ProbeModel(configuration.ProbeConfig()).save_pretrained(folder)
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("mjprobe", "mjprobe.configuration_probe", "mjprobe.modeling_probe"):
            sys.modules.pop(name, None)
    return folder


def halves() -> Image.Image:
    """Red 125 (0.490: above ImageNet's 0.485, below 0.5) left, 135 (0.529) right."""
    pixels = np.zeros((30, 40, 3), np.uint8)
    pixels[:, :20] = 125
    pixels[:, 20:] = 135
    return Image.fromarray(pixels)


def found(segmenter: TransformersSegmenter) -> tuple[float, float]:
    mask = np.asarray(subject_mask(halves(), segmenter)) > 0
    return float(mask[:, :20].mean()), float(mask[:, 20:].mean())


def test_the_models_own_normalisation_and_size_are_used(probe_folder: Path) -> None:
    (probe_folder / "preprocessor_config.json").write_text(json.dumps(RMBG_14))
    segmenter = TransformersSegmenter(str(probe_folder))
    assert found(segmenter) == (0.0, 1.0)  # 0.490 − 0.5 < 0 < 0.529 − 0.5
    assert segmenter._model.seen == (1, 3, 48, 64)
    assert segmenter.preprocessing == ImagePreprocessing((64, 48), (0.5,) * 3, (1.0,) * 3)


def test_without_one_imagenet_and_1024_apply(probe_folder: Path) -> None:
    segmenter = TransformersSegmenter(str(probe_folder))
    assert found(segmenter) == (1.0, 1.0)  # both above ImageNet's red mean
    assert segmenter._model.seen == (1, 3, 1024, 1024)
    assert segmenter.preprocessing.mean == IMAGENET_MEAN


def test_what_the_setting_gives_wins_over_the_file(probe_folder: Path) -> None:
    (probe_folder / "preprocessor_config.json").write_text(json.dumps(RMBG_14))
    segmenter = TransformersSegmenter(str(probe_folder), size=32, mean=(0.6, 0.6, 0.6))
    assert found(segmenter) == (0.0, 0.0)  # both below 0.6
    assert segmenter._model.seen == (1, 3, 32, 32)
    assert segmenter.preprocessing.std == (1.0, 1.0, 1.0)  # not given: the file's


def test_a_broken_preprocessor_config_is_named(probe_folder: Path) -> None:
    (probe_folder / "preprocessor_config.json").write_text(json.dumps({"image_mean": [0.5, 1]}))
    with pytest.raises(ModelLoadError, match=r"preprocessor_config.json: image_mean must be 3"):
        TransformersSegmenter(str(probe_folder)).load()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (RMBG_14, ImagePreprocessing((64, 48), (0.5,) * 3, (1.0,) * 3)),
        # pixels in 0–255: mean 127.5 and std 255 are 0.5 and 1 of 0–1 values
        (
            {"do_rescale": False, "image_mean": 127.5, "image_std": [255, 255, 255], "size": 512},
            ImagePreprocessing((512, 512), (0.5,) * 3, (1.0,) * 3),
        ),
        ({"do_normalize": False}, ImagePreprocessing(None, (0.0,) * 3, (1.0,) * 3)),
        ({"size": {"shortest_edge": 320}}, ImagePreprocessing((320, 320), None, None)),
        ({}, ImagePreprocessing()),
    ],
)
def test_preprocessor_configs_are_read(
    config: dict[str, object], expected: ImagePreprocessing
) -> None:
    assert ImagePreprocessing.from_config(config) == expected


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"image_std": [0.5, 0, 1]}, "image_std must be above 0"),
        ({"image_mean": ["a", 1, 2]}, "image_mean must be 3 numbers"),
        ({"size": "big"}, "size must be a number or height and width"),
    ],
)
def test_wrong_preprocessor_configs_name_the_field(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ImagePreprocessing.from_config(config)
