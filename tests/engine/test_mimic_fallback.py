"""Reference edits without MimicBrush weights: the fallback on the diffusion model
(reference-only attention + IP-Adapter Plus) keeps every pixel outside the region at any image
size, follows the reference only through the reference's two paths, and keep-shape repaints
from the image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.mimic.fallback import run_fallback, working_size
from engine.mimic.operation import MimicRegistry, check_mimic_request, describe_mimic
from engine.models import LoadedModel
from engine.request import GenerationRequest, MimicSpec, Operation

SIZE = (96, 64)


@pytest.fixture(scope="module")
def tiny(model_cache: Path) -> LoadedModel:
    """A copy of its own: the fallback loads IP-Adapters into it, which would otherwise stay
    in the session's shared tiny model (and its saved configs) for the tests after these."""
    import torch

    from engine.models import load_model

    return load_model("builtin:tiny", device="cpu", dtype=torch.float32, cache_dir=model_cache)


BOX = (24, 16, 72, 48)


def _source() -> Image.Image:
    image = Image.new("RGB", SIZE, (40, 120, 200))
    image.paste((230, 180, 20), (8, 8, 40, 40))
    return image


def _mask() -> Image.Image:
    mask = Image.new("L", SIZE, 0)
    mask.paste(255, BOX)
    return mask


def _reference(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (72, 72, 3), dtype=np.uint8), "RGB")


def _request(reference: Image.Image, *, keep_shape: bool = False) -> GenerationRequest:
    return GenerationRequest(
        operation=Operation.MIMIC,
        source=_source(),
        mask=_mask(),
        mimic=MimicSpec(reference, keep_shape=keep_shape),
        seeds=(3, 4),
        count=2,
        steps=4,
    )


def _edit(
    model: LoadedModel, request: GenerationRequest, *, show_reference: bool = True
) -> tuple[list[np.ndarray], int]:
    _, region = check_mimic_request(request)
    result, writes = run_fallback(model, request, region, show_reference=show_reference)
    assert result.parameters.operation == "mimic"
    assert result.parameters.references["model"] == f"fallback on {model.source}"
    return [np.asarray(i, dtype=int) for i in result.images], writes


def test_outside_the_region_every_pixel_is_the_image(tiny: LoadedModel) -> None:
    images, writes = _edit(tiny, _request(_reference(1)))
    source = np.asarray(_source(), dtype=int)
    outside = np.asarray(_mask()) == 0
    for image in images:
        assert image.shape == (SIZE[1], SIZE[0], 3)  # the image's own size, not the model's
        assert (image[outside] == source[outside]).all()
        assert np.abs(image - source)[~outside].mean() > 5
    assert writes >= 1  # the reference pass ran before the guided U-Net calls


def test_the_reference_steers_the_edit_only_through_its_two_paths(tiny: LoadedModel) -> None:
    """Two references give different edits; with the reference attention off and no
    IP-Adapter they give the same edit to the last bit."""
    first, _ = _edit(tiny, _request(_reference(1)))
    second, _ = _edit(tiny, _request(_reference(2)))
    assert np.abs(first[0] - second[0]).mean() > 0.5
    shut = [_edit(tiny, _request(_reference(n)), show_reference=False)[0] for n in (1, 2)]
    assert (shut[0][0] == shut[1][0]).all()


def test_keep_shape_repaints_from_the_image(tiny: LoadedModel) -> None:
    free, _ = _edit(tiny, _request(_reference(1)))
    kept, _ = _edit(tiny, _request(_reference(1), keep_shape=True))
    source = np.asarray(_source(), dtype=int)
    inside = np.asarray(_mask()) == 255
    assert np.abs(kept[0] - source)[inside].mean() < np.abs(free[0] - source)[inside].mean()


def test_the_processors_are_restored_after_the_edit(tiny: LoadedModel) -> None:
    pipe = tiny.inpaint()
    before = {name: type(p) for name, p in pipe.unet.attn_processors.items()}
    _edit(tiny, _request(_reference(1)))
    assert {name: type(p) for name, p in pipe.unet.attn_processors.items()} == before
    assert not pipe.unet._forward_pre_hooks


@pytest.mark.parametrize(("size", "expected"), [((96, 64), (320, 192)), ((512, 512), (256, 256))])
def test_any_image_size_is_rendered_at_the_models_budget(
    tiny: LoadedModel, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert working_size(size, tiny) == expected


def test_without_weights_the_registry_is_the_fallback_and_says_so() -> None:
    assert MimicRegistry(None).fallback
    assert not MimicRegistry("builtin:mimic").fallback
    assert "fallback on the configured model" in describe_mimic(None)


def test_the_reference_reaches_only_the_conditional_half(tiny: LoadedModel) -> None:
    """One guided U-Net call (9-channel inputs of the inpainting pipeline or 4 of the plain
    one, whichever the model has): the unconditional rows are bit-identical with and without
    the reference, the conditional rows move, and switched off nothing moves."""
    import torch

    from engine.mimic.reference_only import reference_only

    pipe = tiny.inpaint()
    unet = pipe.unet
    generator = torch.Generator("cpu").manual_seed(0)
    channels = unet.config.in_channels
    sample = torch.randn((2, channels, 8, 12), generator=generator)
    states = torch.randn((2, 77, unet.config.cross_attention_dim), generator=generator)
    t = torch.tensor(500)
    pipe.scheduler.set_timesteps(10)

    def call() -> torch.Tensor:
        with torch.no_grad():
            return unet(sample, t, encoder_hidden_states=states).sample

    plain = call()
    with reference_only(pipe, _reference(1)) as state:
        shown = call()
        state.enabled = False
        shut = call()
    assert state.writes == 2
    assert torch.equal(shown[0], plain[0])  # unconditional: untouched
    moved = (shown[1] - plain[1]).abs().mean() / plain[1].abs().mean()
    assert moved > 1e-3
    assert torch.equal(shut, plain)
    assert torch.equal(call(), plain)  # and nothing is left installed
