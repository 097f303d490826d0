"""Tests for grid composition, cell cropping, previews and size-capped encoding."""

import io

import numpy as np
import pytest
from PIL import Image

from engine.grid import (
    EncodedImage,
    compose_grid,
    crop_cell,
    encode,
    encode_png,
    encode_to_fit,
    preview,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def noise(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    channels = len(mode)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, channels), np.uint8)
    return Image.fromarray(pixels.squeeze(axis=2) if channels == 1 else pixels, mode)


def gradient(width: int = 256, height: int = 192) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, axis=0)
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, axis=1)
    return Image.fromarray(np.stack([x, y, 255 - x], axis=-1), "RGB")


def decode(encoded: EncodedImage) -> Image.Image:
    image = Image.open(io.BytesIO(encoded.data))
    image.load()
    return image


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.mode == b.mode and a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))


# --- compose_grid / crop_cell -------------------------------------------------------------


def test_compose_grid_reading_order_puts_image_one_top_left_and_four_bottom_right() -> None:
    colours = [RED, GREEN, BLUE, WHITE]
    grid = compose_grid([Image.new("RGB", (64, 96), c) for c in colours])

    assert grid.size == (128, 192)
    assert grid.getpixel((10, 10)) == RED
    assert grid.getpixel((64 + 10, 10)) == GREEN
    assert grid.getpixel((10, 96 + 10)) == BLUE
    assert grid.getpixel((127, 191)) == WHITE


@pytest.mark.parametrize("size", [(64, 96), (1456, 816)])
def test_crop_cell_returns_each_original_exactly(size: tuple[int, int]) -> None:
    images = [noise(*size, seed=seed) for seed in range(4)]
    grid = compose_grid(images)

    for index, original in enumerate(images):
        assert same_pixels(crop_cell(grid, index, size), original)


def test_compose_grid_short_last_row_leaves_black_cells() -> None:
    grid = compose_grid([Image.new("RGB", (32, 32), RED)] * 3)

    assert grid.size == (64, 64)
    assert np.all(np.asarray(crop_cell(grid, 3, (32, 32))) == 0)


def test_compose_grid_single_row_with_four_columns() -> None:
    images = [noise(40, 30, seed=seed) for seed in range(4)]
    grid = compose_grid(images, columns=4)

    assert grid.size == (160, 30)
    assert same_pixels(crop_cell(grid, 2, (40, 30), columns=4), images[2])


def test_compose_grid_converts_greyscale_into_rgb_losslessly() -> None:
    grey = noise(32, 32, "L", seed=1)
    grid = compose_grid([noise(32, 32), grey])

    assert grid.mode == "RGB"
    assert same_pixels(crop_cell(grid, 1, (32, 32)), grey.convert("RGB"))


def test_compose_grid_keeps_alpha_when_rgba_meets_rgb() -> None:
    rgba = noise(32, 32, "RGBA", seed=2)
    grid = compose_grid([noise(32, 32), rgba])

    assert grid.mode == "RGBA"
    assert same_pixels(crop_cell(grid, 1, (32, 32)), rgba)
    assert np.all(np.asarray(crop_cell(grid, 0, (32, 32)))[..., 3] == 255)  # RGB cell is opaque


def test_compose_grid_rejects_empty_list() -> None:
    with pytest.raises(ValueError, match="no images"):
        compose_grid([])


def test_compose_grid_rejects_different_sizes() -> None:
    with pytest.raises(ValueError, match=r"images\[1\] is 64x64 but images\[0\] is 64x96"):
        compose_grid([noise(64, 96), noise(64, 64)])


def test_compose_grid_rejects_zero_columns() -> None:
    with pytest.raises(ValueError, match="columns"):
        compose_grid([noise(8, 8)], columns=0)


def test_compose_grid_rejects_lossy_mode_mix() -> None:
    with pytest.raises(ValueError, match="CMYK"):
        compose_grid([noise(8, 8), Image.new("CMYK", (8, 8))])


@pytest.mark.parametrize("index", [-1, 4, 100])
def test_crop_cell_rejects_index_outside_grid(index: int) -> None:
    grid = compose_grid([noise(16, 16, seed=seed) for seed in range(4)])

    with pytest.raises(IndexError, match=f"cell {index} is outside"):
        crop_cell(grid, index, (16, 16))


# --- encode_to_fit ------------------------------------------------------------------------


def test_encode_to_fit_smooth_image_is_lossless_png() -> None:
    image = gradient()
    encoded = encode_to_fit(image, 10 * 2**20)

    assert (encoded.format, encoded.quality) == ("png", None)
    assert (encoded.extension, encoded.content_type) == (".png", "image/png")
    decoded = decode(encoded)
    assert decoded.format == "PNG"
    assert same_pixels(decoded, image)


def test_encode_to_fit_png_keeps_alpha() -> None:
    image = noise(64, 48, "RGBA")
    decoded = decode(encode_to_fit(image, 2**20))

    assert same_pixels(decoded, image)


def test_encode_to_fit_noise_over_limit_gives_highest_fitting_webp_quality() -> None:
    image = noise(512, 512)
    limit = encode(image, "webp", 70).nbytes
    assert len(encode_png(image)) > limit

    encoded = encode_to_fit(image, limit)

    assert encoded.format == "webp"
    assert encoded.nbytes <= limit
    assert encoded.quality is not None
    assert 70 <= encoded.quality < 100
    assert encode(image, "webp", encoded.quality + 1).nbytes > limit
    decoded = decode(encoded)
    assert (decoded.format, decoded.size) == ("WEBP", (512, 512))
    assert (encoded.extension, encoded.content_type) == (".webp", "image/webp")


def test_encode_to_fit_without_webp_gives_highest_fitting_jpeg_quality() -> None:
    image = noise(384, 256)
    limit = encode(image, "jpeg", 80).nbytes + 100

    encoded = encode_to_fit(image, limit, formats=("png", "jpeg"))

    assert encoded.format == "jpeg"
    assert encoded.nbytes <= limit
    assert encoded.quality is not None
    assert 80 <= encoded.quality < 100
    assert encode(image, "jpeg", encoded.quality + 1).nbytes > limit
    decoded = decode(encoded)
    assert (decoded.format, decoded.size) == ("JPEG", (384, 256))
    assert (encoded.extension, encoded.content_type) == (".jpg", "image/jpeg")


def test_encode_to_fit_returns_quality_100_when_it_fits() -> None:
    image = noise(256, 256)
    limit = len(encode_png(image)) - 1

    encoded = encode_to_fit(image, limit, formats=("png", "jpeg"))

    assert (encoded.format, encoded.quality) == ("jpeg", 100)


def test_encode_to_fit_rgba_to_jpeg_composites_on_white() -> None:
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (0, 0, 32, 64))

    encoded = encode_to_fit(image, 2**20, formats=("jpeg",))

    decoded = decode(encoded)
    assert (decoded.format, decoded.mode) == ("JPEG", "RGB")
    pixels = np.asarray(decoded).astype(int)
    assert pixels[:, 40:].min() >= 245  # the transparent half is white, not black
    assert pixels[:, :24, 0].min() > 180
    assert pixels[:, :24, 1].max() < 30


def test_encode_to_fit_absurd_limit_downscales_keeping_aspect() -> None:
    image = noise(192, 128)
    limit = 3000

    encoded = encode_to_fit(image, limit)

    assert encoded.nbytes <= limit
    assert encoded.width < 192
    assert min(encoded.width, encoded.height) >= 64
    assert encoded.width / encoded.height == pytest.approx(1.5, abs=0.03)
    assert decode(encoded).size == (encoded.width, encoded.height)


def test_encode_to_fit_impossible_limit_names_it() -> None:
    with pytest.raises(ValueError, match="within 100 bytes"):
        encode_to_fit(noise(128, 96), 100)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"formats": ("gif",)}, "unknown image format 'gif'"),
        ({"formats": ()}, "at least one format"),
        ({"min_quality": 0}, "min_quality"),
    ],
)
def test_encode_to_fit_rejects_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_to_fit(noise(8, 8), 1000, **kwargs)  # type: ignore[arg-type]


def test_encode_to_fit_discord_limit_on_2048_noise_grid() -> None:
    grid = compose_grid([noise(1024, 1024, seed=seed) for seed in range(4)])
    limit = 10 * 2**20

    encoded = encode_to_fit(grid, limit)

    assert encoded.format != "png"  # 12 MiB of noise does not fit as PNG
    assert encoded.nbytes <= limit
    assert (encoded.width, encoded.height) == (2048, 2048)


def test_encoded_image_repr_leaves_out_bytes() -> None:
    encoded = encode(gradient(64, 64), "png")

    assert "data" not in repr(encoded)


# --- preview ------------------------------------------------------------------------------


def test_preview_shrinks_longest_side_and_keeps_aspect() -> None:
    small = preview(noise(1456, 816), max_side=512)

    assert small.size == (512, 287)


def test_preview_never_upscales() -> None:
    image = noise(300, 200)
    small = preview(image, max_side=512)

    assert same_pixels(small, image)
    assert small is not image


# --- fast PNG and predicted qualities (issue 15, item 10) ----------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA"])
@pytest.mark.parametrize("size", [(1, 1), (37, 5), (1500, 1400)])
def test_fast_png_round_trips_exactly(mode: str, size: tuple[int, int]) -> None:
    image = noise(*size).convert(mode) if mode != "RGBA" else noise(*size, mode="RGBA")
    decoded = Image.open(io.BytesIO(encode_png(image)))
    decoded.load()
    assert decoded.mode == image.mode
    assert same_pixels(decoded, image)


def test_fit_to_a_small_limit_takes_at_most_two_full_encodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 2048² grid into 0.8 MiB took ~8 full WebP encodes (PNG, q100, q50, a binary search);
    a probe now predicts the quality."""
    from engine import grid as grid_module

    grid = compose_grid([smooth_noise(1024, seed) for seed in range(4)])
    full_size: list[tuple[str, int | None]] = []
    original = grid_module._encode_prepared

    def counting(image: Image.Image, format: str, quality: int | None) -> EncodedImage:
        if image.size == grid.size:
            full_size.append((format, quality))
        return original(image, format, quality)

    monkeypatch.setattr(grid_module, "_encode_prepared", counting)
    limit = 8 * 2**20 // 10
    encoded = encode_to_fit(grid, limit)
    assert encoded.nbytes <= limit
    assert (encoded.width, encoded.height) == (2048, 2048)
    assert len(full_size) <= 2, full_size
    assert encoded.quality is not None
    # close to the best possible: one quality step up would not fit by much
    assert encode(grid, "webp", min(100, encoded.quality + 6)).nbytes > limit


def smooth_noise(side: int, seed: int) -> Image.Image:
    """Render-like content: smooth colour fields with fine grain."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (side // 16, side // 16, 3), dtype=np.uint8))
    smooth = np.asarray(base.resize((side, side), Image.Resampling.BICUBIC)).astype(int)
    grain = rng.integers(-12, 12, (side, side, 3))
    return Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8))
