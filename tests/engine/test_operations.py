"""Operations on the tiny models: grids, seeds, variations, upscale, region, outpaint."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from engine.errors import InvalidRequestError, JobCancelledError
from engine.models import LoadedModel
from engine.operations import render
from engine.request import (
    GenerationRequest,
    Operation,
    OutpaintSpec,
    PanDirection,
    Progress,
    Strength,
    WeightedText,
)
from tests.engine.conftest import PROMPT
from tests.engine.helpers import max_diff, mean_diff, pixels


def imagine(model: LoadedModel, **kwargs: object) -> list[Image.Image]:
    request = GenerationRequest(prompt=PROMPT, **kwargs)  # type: ignore[arg-type]
    return list(render(model, request).images)


def test_imagine_same_seed_gives_identical_grid(tiny: LoadedModel) -> None:
    first = imagine(tiny, seed=7)
    second = imagine(tiny, seed=7)
    assert len(first) == 4
    assert all(max_diff(a, b) == 0 for a, b in zip(first, second, strict=True))


def test_imagine_different_seeds_differ_and_cells_differ(tiny: LoadedModel) -> None:
    grid = imagine(tiny, seed=7)
    other = imagine(tiny, seed=8)
    assert mean_diff(grid[0], other[0]) > 1
    assert mean_diff(grid[0], grid[1]) > 1


def test_imagine_cell_rendered_alone_from_its_seed_matches(tiny: LoadedModel) -> None:
    request = GenerationRequest(prompt=PROMPT, seed=1234)
    grid = render(tiny, request)
    assert grid.seeds == (1234, 1235, 1236, 1237)
    for index in (1, 3):
        alone = render(tiny, GenerationRequest(prompt=PROMPT, seeds=(grid.seeds[index],), count=1))
        # batch size changes float rounding by at most one 8-bit level on a few pixels
        assert max_diff(alone.images[0], grid.images[index]) <= 1
        assert mean_diff(alone.images[0], grid.images[index]) < 0.01


@pytest.mark.parametrize("fixture", ["tiny", "tiny_sdxl"])
def test_imagine_renders_every_ratio_at_its_size(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    """Sides in multiples of 16 (not 64) render at exactly the computed size on both
    architectures, with content across the whole image (no padding band)."""
    model: LoadedModel = request.getfixturevalue(fixture)
    for aspect, size in (((16, 9), (336, 192)), ((4, 5), (224, 288)), ((1, 4), (128, 512))):
        result = render(
            model, GenerationRequest(prompt=PROMPT, aspect=aspect, seeds=(1,), count=1, steps=2)
        )
        assert (result.width, result.height) == size
        image = pixels(result.images[0])
        assert image.shape[:2] == (size[1], size[0])
        for band in (image[:16], image[-16:], image[:, :16], image[:, -16:]):
            assert float(band.std()) > 1


def test_imagine_prompt_weights_and_negative_change_the_image(tiny: LoadedModel) -> None:
    base = imagine(tiny, seed=3)[0]
    weighted = render(
        tiny,
        GenerationRequest(
            prompt=(WeightedText("a red fox", 2), WeightedText("snow", -0.5)), seed=3
        ),
    ).images[0]
    negative = imagine(tiny, seed=3, negative=("text", "blur"))[0]
    assert mean_diff(base, weighted) > 0.5
    assert mean_diff(base, negative) > 0.5


def test_imagine_stylize_and_weird_change_the_image(tiny: LoadedModel) -> None:
    base = imagine(tiny, seed=3)[0]
    assert mean_diff(base, imagine(tiny, seed=3, stylize=1000)[0]) > 0.5
    assert mean_diff(base, imagine(tiny, seed=3, weird=3000)[0]) > 0.5


def test_imagine_stop_uses_about_half_the_steps(tiny: LoadedModel) -> None:
    full = render(tiny, GenerationRequest(prompt=PROMPT, seed=5, count=1))
    half = render(tiny, GenerationRequest(prompt=PROMPT, seed=5, count=1, stop=50))
    assert full.steps_run == 8
    assert half.steps_run == 4
    # the effect on the image, as a curve over --stop: test_followups.py::test_stop_curve_on_grids


def test_stop_decodes_the_prediction_of_the_finished_image_not_noise(
    tiny: LoadedModel,
) -> None:
    import torch

    from engine.sampling import StepHooks, capture_x0

    pipe = tiny.text2img

    def latents(stop: int, naive: bool = False) -> torch.Tensor:
        hooks = StepHooks("sd", stop)

        def naive_stop(p: object, index: int, t: object, kwargs: dict[str, object]) -> object:
            if index + 1 == 4:
                p._interrupt = True  # type: ignore[attr-defined]
            return kwargs

        with capture_x0(pipe.scheduler) as x0:
            hooks.x0 = x0
            out = pipe(
                prompt="a fox",
                num_inference_steps=8,
                height=256,
                width=256,
                generator=torch.Generator("cpu").manual_seed(5),
                output_type="latent",
                callback_on_step_end=naive_stop if naive else hooks,
            )
        pipe._interrupt = False
        return out.images

    finished, stopped, half_noised = latents(100), latents(50), latents(50, naive=True)
    # The stopped result is close to what full sampling reaches; the half-denoised
    # latents (what a plain interrupt decodes) are an order of magnitude further away.
    assert (stopped - finished).abs().mean() * 5 < (half_noised - finished).abs().mean()


def test_imagine_progress_reaches_100_with_previews(tiny: LoadedModel) -> None:
    seen: list[Progress] = []
    previews: list[int] = []

    def preview(images: list[Image.Image]) -> Image.Image:
        previews.append(len(images))
        return images[0]

    render(
        tiny, GenerationRequest(prompt=PROMPT, seed=1), on_progress=seen.append, on_preview=preview
    )
    percents = [p.percent for p in seen]
    assert percents == sorted(percents)
    assert percents[-1] == 100
    assert previews == [4, 4, 4]  # at 25, 50 and 75 percent
    assert sum(p.preview is not None for p in seen) == 3


def test_render_cancel_stops_within_one_step(tiny: LoadedModel) -> None:
    cancel = threading.Event()
    steps: list[int] = []

    def on_progress(progress: Progress) -> None:
        steps.append(progress.step)
        if progress.step == 2:
            cancel.set()

    with pytest.raises(JobCancelledError):
        render(
            tiny, GenerationRequest(prompt=PROMPT, seed=1), cancel=cancel, on_progress=on_progress
        )
    assert steps == [1, 2]


def test_variation_keeps_size_and_strength_orders_change(tiny: LoadedModel) -> None:
    source = imagine(tiny, seed=21)[0]
    subtle = render(
        tiny,
        GenerationRequest(
            operation=Operation.VARIATION,
            prompt=PROMPT,
            source=source,
            strength=Strength.SUBTLE,
            seed=1,
        ),
    )
    strong = render(
        tiny,
        GenerationRequest(
            operation=Operation.VARIATION,
            prompt=PROMPT,
            source=source,
            strength=Strength.STRONG,
            seed=1,
        ),
    )
    assert len(subtle.images) == 4
    assert subtle.images[0].size == source.size
    assert mean_diff(subtle.images[0], source) < mean_diff(strong.images[0], source)
    assert subtle.parameters.strength < strong.parameters.strength


@pytest.mark.parametrize("strength", [Strength.SUBTLE, Strength.STRONG])
def test_upscale_is_exactly_twice_the_size(tiny: LoadedModel, strength: Strength) -> None:
    source = imagine(tiny, seed=2, aspect=(16, 9))[1]
    result = render(
        tiny,
        GenerationRequest(
            operation=Operation.UPSCALE, prompt=PROMPT, source=source, strength=strength, count=1
        ),
    )
    assert result.images[0].size == (source.width * 2, source.height * 2)
    assert not tiny.text2img.vae.use_tiling  # tiling was switched back off


def test_region_changes_only_inside_the_mask(tiny: LoadedModel) -> None:
    source = imagine(tiny, seed=9)[0]
    mask = Image.new("L", source.size, 0)
    mask.paste(255, (48, 64, 176, 160))
    result = render(
        tiny,
        GenerationRequest(
            operation=Operation.REGION, prompt=PROMPT, source=source, mask=mask, seed=4
        ),
    )
    inside = np.asarray(mask) > 0
    for image in result.images:
        difference = np.abs(pixels(image) - pixels(source)).max(axis=2)
        assert difference[~inside].max() == 0
        assert difference[inside].mean() > 5


def test_region_mask_size_must_match(tiny: LoadedModel) -> None:
    source = imagine(tiny, seed=9)[0]
    with pytest.raises(InvalidRequestError):
        render(
            tiny,
            GenerationRequest(
                operation=Operation.REGION,
                prompt=PROMPT,
                source=source,
                mask=Image.new("L", (64, 64), 255),
            ),
        )


@pytest.mark.parametrize("zoom", [2.0, 1.5])
def test_zoom_out_shows_the_original_scaled_at_the_centre(tiny: LoadedModel, zoom: float) -> None:
    source = imagine(tiny, seed=13)[0]
    result = render(
        tiny,
        GenerationRequest(
            operation=Operation.OUTPAINT,
            prompt=PROMPT,
            source=source,
            outpaint=OutpaintSpec(zoom=zoom),
            seed=1,
            count=1,
        ),
    )
    image = result.images[0]
    assert image.size == source.size
    side = round(source.width / zoom)
    left = (source.width - side) // 2
    scaled = source.resize((side, side), Image.Resampling.LANCZOS)
    seam = 12
    centre = image.crop((left + seam, left + seam, left + side - seam, left + side - seam))
    expected = scaled.crop((seam, seam, side - seam, side - seam))
    assert max_diff(centre, expected) == 0
    border = image.crop((0, 0, source.width, left))
    assert float(pixels(border).std()) > 1  # new content, not a flat fill


@pytest.mark.parametrize(
    ("direction", "size", "offset"),
    [
        (PanDirection.LEFT, (384, 256), (128, 0)),
        (PanDirection.RIGHT, (384, 256), (0, 0)),
        (PanDirection.UP, (256, 384), (0, 128)),
        (PanDirection.DOWN, (256, 384), (0, 0)),
    ],
)
def test_pan_extends_the_canvas_and_shifts_the_original(
    tiny: LoadedModel,
    direction: PanDirection,
    size: tuple[int, int],
    offset: tuple[int, int],
) -> None:
    source = imagine(tiny, seed=13)[0]
    result = render(
        tiny,
        GenerationRequest(
            operation=Operation.OUTPAINT,
            prompt=PROMPT,
            source=source,
            outpaint=OutpaintSpec(pan=direction),
            count=1,
        ),
    )
    image = result.images[0]
    assert image.size == size
    seam = 12
    x, y = offset
    kept = image.crop((x + seam, y + seam, x + 256 - seam, y + 256 - seam))
    assert max_diff(kept, source.crop((seam, seam, 256 - seam, 256 - seam))) == 0


def test_make_square_and_custom_zoom_with_new_aspect(tiny: LoadedModel) -> None:
    wide = imagine(tiny, seed=5, aspect=(16, 9))[0]
    square = render(
        tiny,
        GenerationRequest(
            operation=Operation.OUTPAINT,
            prompt=PROMPT,
            source=wide,
            outpaint=OutpaintSpec(make_square=True),
            count=1,
        ),
    )
    assert square.images[0].size == (336, 336)
    tall = render(
        tiny,
        GenerationRequest(
            operation=Operation.OUTPAINT,
            prompt=PROMPT,
            source=wide,
            count=1,
            outpaint=OutpaintSpec(zoom=1.0, aspect=(1, 2)),
        ),
    )
    width, height = tall.images[0].size
    assert height > width


def test_operations_without_a_source_are_refused(tiny: LoadedModel) -> None:
    with pytest.raises(InvalidRequestError):
        render(tiny, GenerationRequest(operation=Operation.VARIATION, prompt=PROMPT))


def test_sdxl_imagine_and_region(tiny_sdxl: LoadedModel) -> None:
    first = render(tiny_sdxl, GenerationRequest(prompt=PROMPT, seed=3, aspect=(3, 2)))
    again = render(tiny_sdxl, GenerationRequest(prompt=PROMPT, seed=3, aspect=(3, 2)))
    assert first.images[0].size == (320, 208)
    assert max_diff(first.images[2], again.images[2]) == 0
    mask = Image.new("L", first.images[0].size, 0)
    mask.paste(255, (0, 0, 160, 96))
    region = render(
        tiny_sdxl,
        GenerationRequest(
            operation=Operation.REGION,
            prompt=PROMPT,
            source=first.images[0],
            mask=mask,
            count=1,
            chaos=50,
        ),
    )
    outside = np.asarray(mask) == 0
    diff = np.abs(pixels(region.images[0]) - pixels(first.images[0])).max(axis=2)
    assert diff[outside].max() == 0


@pytest.mark.parametrize(
    ("operation", "extra", "size"),
    [
        (Operation.VARIATION, {"strength": Strength.SUBTLE}, (256, 256)),
        (Operation.UPSCALE, {}, (512, 512)),
        (Operation.OUTPAINT, {"outpaint": OutpaintSpec(pan=PanDirection.RIGHT)}, (384, 256)),
    ],
)
def test_sdxl_follow_up_operations(
    tiny_sdxl: LoadedModel, operation: Operation, extra: dict[str, object], size: tuple[int, int]
) -> None:
    source = render(tiny_sdxl, GenerationRequest(prompt=PROMPT, seed=8, count=1)).images[0]
    result = render(
        tiny_sdxl,
        GenerationRequest(operation=operation, prompt=PROMPT, source=source, count=1, **extra),
    )  # type: ignore[arg-type]
    assert result.images[0].size == size
