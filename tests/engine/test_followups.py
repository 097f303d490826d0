"""Follow-ups (variations, upscales, region, outpaint): always a step, --q and --stop as
Midjourney applies them, upscale fidelity, and no progress bars on stderr."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from engine.models import LoadedModel
from engine.operations import UPSCALE_STRENGTH, render, schedule_steps, steps_for
from engine.request import (
    GenerationRequest,
    Operation,
    OutpaintSpec,
    PanDirection,
    Strength,
)
from tests.engine.conftest import PROMPT
from tests.engine.helpers import max_diff, mean_diff

FOLLOW_UPS = [
    (Operation.VARIATION, Strength.SUBTLE, {}),
    (Operation.VARIATION, Strength.STRONG, {}),
    (Operation.UPSCALE, Strength.SUBTLE, {}),
    (Operation.UPSCALE, Strength.STRONG, {}),
    (Operation.REGION, Strength.STRONG, {"mask": "square"}),
    (Operation.OUTPAINT, Strength.STRONG, {"outpaint": OutpaintSpec(pan=PanDirection.UP)}),
]


def crop(tiny: LoadedModel, seed: int) -> Image.Image:
    """A 128² piece of a render: follow-ups of it (256² upscales) stay quick."""
    grid = render(tiny, GenerationRequest(prompt=PROMPT, seeds=(seed,), count=1, steps=4))
    return grid.images[0].crop((64, 64, 192, 192))


@pytest.fixture(scope="module")
def source(tiny: LoadedModel) -> Image.Image:
    return crop(tiny, 21)


def follow_up(
    source: Image.Image,
    operation: Operation,
    strength: Strength,
    extra: dict[str, object],
    **changes: object,
) -> GenerationRequest:
    if extra.get("mask") == "square":
        mask = Image.new("L", source.size, 0)
        mask.paste(255, (32, 32, 96, 96))
        extra = {"mask": mask}
    return GenerationRequest(
        operation=operation,
        prompt=PROMPT,
        source=source,
        strength=strength,
        seeds=(5,),
        count=1,
        **extra,  # type: ignore[arg-type]
        **changes,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("operation", "strength", "extra"), FOLLOW_UPS)
@pytest.mark.parametrize("settings", [{"quality": 0.25, "steps": 2}, {"steps": 1}])
def test_every_follow_up_runs_at_least_one_step(
    tiny: LoadedModel,
    source: Image.Image,
    operation: Operation,
    strength: Strength,
    extra: dict[str, object],
    settings: dict[str, object],
) -> None:
    """A ``--q .25`` parent (2 of 8 steps) or ``MJ_STEPS=1``: Upscale (Subtle) used to run
    int(2·0.25) = 0 steps and crash on an empty tensor."""
    result = render(tiny, follow_up(source, operation, strength, extra, **settings))
    assert result.steps_run >= 1
    assert result.parameters.steps_scheduled * result.parameters.strength >= 1


def test_schedule_is_lengthened_only_when_no_step_would_run() -> None:
    assert schedule_steps(30, 0.25) == 30
    assert schedule_steps(2, 0.25) == 4
    assert schedule_steps(1, 0.45) == 3
    assert schedule_steps(1, 0.95) == 2
    assert schedule_steps(8, None) == 8


@pytest.mark.parametrize(("steps", "quality", "expected"), [(800, 2.0, 1000), (5000, 1.0, 1000)])
def test_schedules_stop_at_the_models_training_timesteps(
    tiny: LoadedModel, steps: int, quality: float, expected: int
) -> None:
    """``MJ_STEPS`` allows 10,000 and ``--q 2`` doubles it; DPM++ (Karras) used to crash with
    an IndexError at the last step of any schedule past ~1040 steps."""
    request = GenerationRequest(prompt=PROMPT, seeds=(1,), steps=steps, quality=quality)
    assert tiny.max_steps == 1000
    assert steps_for(tiny, request) == expected
    scheduler = type(tiny.text2img.scheduler).from_config(tiny.text2img.scheduler.config)
    scheduler.set_timesteps(steps_for(tiny, request))
    sample = torch.zeros(1, 4, 2, 2)
    for timestep in scheduler.timesteps:  # the whole schedule steps through
        sample = scheduler.step(torch.zeros_like(sample), timestep, sample).prev_sample
    assert scheduler.step_index == expected


@pytest.mark.parametrize("operation", [Operation.UPSCALE, Operation.VARIATION])
def test_quality_applies_to_first_grids_only(
    tiny: LoadedModel, source: Image.Image, operation: Operation
) -> None:
    full = render(tiny, follow_up(source, operation, Strength.SUBTLE, {}))
    inherited = render(tiny, follow_up(source, operation, Strength.SUBTLE, {}, quality=0.25))
    assert inherited.parameters.steps == full.parameters.steps == tiny.base_steps
    assert max_diff(inherited.images[0], full.images[0]) == 0
    grid = render(tiny, GenerationRequest(prompt=PROMPT, seeds=(1,), count=1, quality=0.25))
    assert grid.parameters.steps == 2


def test_upscales_ignore_stop(tiny: LoadedModel, source: Image.Image) -> None:
    full = render(tiny, follow_up(source, Operation.UPSCALE, Strength.STRONG, {}))
    stopped = render(tiny, follow_up(source, Operation.UPSCALE, Strength.STRONG, {}, stop=20))
    assert (
        stopped.steps_run
        == full.steps_run
        == int(tiny.base_steps * UPSCALE_STRENGTH[Strength.STRONG])
    )
    assert max_diff(stopped.images[0], full.images[0]) == 0


def test_stop_curve_on_grids(tiny: LoadedModel) -> None:
    """``--stop s`` runs ⌈8·s/100⌉ steps; the earlier it stops, the further from the finished
    image (softer), but never noise: at 50% it is far closer than a plain interrupt's decode."""

    def one(stop: int) -> tuple[int, Image.Image]:
        result = render(tiny, GenerationRequest(prompt=PROMPT, seeds=(5,), count=1, stop=stop))
        return result.steps_run, result.images[0]

    finished = one(100)[1]
    distances = []
    for stop, steps in ((20, 2), (50, 4), (80, 7)):
        run, image = one(stop)
        assert run == steps
        distances.append(mean_diff(image, finished))
    assert distances[0] > distances[1] > distances[2] > 0, distances


def test_upscale_keeps_the_picture(tiny: LoadedModel, source: Image.Image) -> None:
    """Downscaled back, an upscale resembles its source clearly more than another render does
    (the tiny models' random VAE blurs every round trip, which bounds how close it gets)."""
    other = mean_diff(crop(tiny, 22), source)
    for strength in Strength:
        result = render(tiny, follow_up(source, Operation.UPSCALE, strength, {}))
        assert result.images[0].size == (source.width * 2, source.height * 2)
        small = result.images[0].resize(source.size, Image.Resampling.LANCZOS)
        assert mean_diff(small, source) < 0.9 * other
        assert result.parameters.strength == UPSCALE_STRENGTH[strength]


def test_follow_ups_print_no_progress_bars(
    tiny: LoadedModel, source: Image.Image, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    for operation, strength, extra in FOLLOW_UPS[::2]:
        render(tiny, follow_up(source, operation, strength, extra, steps=2))
    err = capfd.readouterr().err
    assert "it/s" not in err
    assert "%|" not in err
