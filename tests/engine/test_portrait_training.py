"""A face LoRA trained on the tiny model: the loss on fixed noise falls, the file loads as a
``--lora`` (weight 0 is the base model, bit for bit), training leaves the shared U-Net as it
was, and a cancel stops it between steps."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.errors import JobCancelledError
from engine.loras import LoraLibrary, LoraUse
from engine.models import LoadedModel
from engine.operations import render
from engine.portrait import default_faces, prepare_photo
from engine.portrait.training import caption_for, evaluation_loss, train_face_lora
from engine.request import GenerationRequest, WeightedText
from tests.engine.helpers import mean_diff

PERSON = "sks"


@pytest.fixture(scope="module")
def crops() -> list[Image.Image]:
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    flipped = astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    photos = [astronaut, flipped, astronaut.crop((40, 0, 472, 432))]
    prepared = [prepare_photo(photo, default_faces(), side=256) for photo in photos]
    assert all(p.crop is not None for p in prepared)
    return [p.crop for p in prepared if p.crop is not None]


def _portrait(model: LoadedModel, library: LoraLibrary, *loras: LoraUse) -> Image.Image:
    request = GenerationRequest(
        prompt=(WeightedText(caption_for(PERSON)),), seeds=(9,), count=1, steps=4, loras=loras
    )
    return render(model, request, loras=library).images[0]


def test_training_lowers_the_loss_and_the_lora_is_a_lora_for_the_prompt(
    tiny: LoadedModel, crops: list[Image.Image], tmp_path: Path
) -> None:
    library = LoraLibrary(tmp_path)
    before_render = _portrait(tiny, library)
    before = evaluation_loss(tiny, crops, PERSON)
    steps: list[int] = []
    report = train_face_lora(
        tiny,
        crops,
        PERSON,
        tmp_path / "me.safetensors",
        steps=60,
        learning_rate=3e-2,  # the tiny U-Net has 17 k weights: it needs a large step
        on_step=lambda step, total, loss: steps.append(step),
    )
    assert steps == list(range(1, 61))
    assert report.path.is_file()
    # The shared U-Net is as it was: the same render, bit for bit, and no adapter left.
    assert np.array_equal(np.asarray(_portrait(tiny, library)), np.asarray(before_render))
    assert evaluation_loss(tiny, crops, PERSON) == pytest.approx(before, rel=1e-6)
    # Loaded as a LoRA: weight 0 is the base model, weight 1 changes the portrait and lowers
    # the loss on the training crops.
    off = _portrait(tiny, library, LoraUse("me", 0.0))
    on = _portrait(tiny, library, LoraUse("me", 1.0))
    assert np.array_equal(np.asarray(off), np.asarray(before_render))
    assert mean_diff(on, before_render) > 0.1
    from engine.loras import applied_loras

    with applied_loras(tiny.text2img, library.resolve([LoraUse("me", 1.0)])):
        after = evaluation_loss(tiny, crops, PERSON)
    assert after < 0.95 * before  # measured 1.18 → 1.10 after 40 steps


def test_a_cancel_stops_training_and_leaves_the_unet_clean(
    tiny: LoadedModel, crops: list[Image.Image], tmp_path: Path
) -> None:
    cancel = threading.Event()

    def on_step(step: int, total: int, loss: float) -> None:
        if step == 3:
            cancel.set()

    with pytest.raises(JobCancelledError):
        train_face_lora(tiny, crops, PERSON, tmp_path / "x.safetensors", steps=50,
                        cancel=cancel, on_step=on_step)  # fmt: skip
    assert not (tmp_path / "x.safetensors").exists()
    assert not any("lora" in n for n, _ in tiny.text2img.unet.named_parameters())
    assert not any(p.requires_grad for p in tiny.text2img.unet.parameters())
