"""Face crops for --cref: a real face is found, anything else falls back to a portrait square."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import engine.faces
from engine.errors import InvalidRequestError
from engine.faces import FaceCrop, face_crop

ASTRONAUT = Path(__file__).parent / "data" / "astronaut.jpg"
FACE = (87, 32, 138, 83)  # the astronaut's face in astronaut.jpg (see data/README.md)


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    with Image.open(ASTRONAUT) as image:
        return image.convert("RGB")


def assert_square_inside(crop: FaceCrop, size: tuple[int, int]) -> None:
    left, top, right, bottom = crop.box
    assert 0 <= left < right <= size[0]
    assert 0 <= top < bottom <= size[1]
    assert right - left == bottom - top
    assert crop.image.size == (right - left, bottom - top)
    assert crop.image.mode == "RGB"


def scaled(face: Sequence[float], scale: float, dx: int = 0, dy: int = 0) -> list[float]:
    left, top, right, bottom = (v * scale for v in face)
    return [left + dx, top + dy, right + dx, bottom + dy]


def assert_covers(box: tuple[int, int, int, int], face: Sequence[float]) -> None:
    """The crop holds the whole face with a margin, and is not much more than the head."""
    left, top, right, bottom = box
    assert left <= face[0]
    assert top <= face[1]
    assert right >= face[2]
    assert bottom >= face[3]
    assert right - left <= 2.5 * (face[2] - face[0])


def test_face_crop_finds_a_real_face(astronaut: Image.Image) -> None:
    crop = face_crop(astronaut)

    assert crop.detected
    assert_square_inside(crop, astronaut.size)
    assert_covers(crop.box, FACE)
    assert np.array_equal(np.asarray(crop.image), np.asarray(astronaut.crop(crop.box)))


@pytest.mark.parametrize("side", [96, 400, 1500])
def test_face_crop_finds_the_face_at_any_resolution(astronaut: Image.Image, side: int) -> None:
    crop = face_crop(astronaut.resize((side, side), Image.Resampling.BICUBIC))

    assert crop.detected
    assert_covers(crop.box, scaled(FACE, side / astronaut.width))


def test_face_crop_maps_a_small_face_back_to_source_pixels(astronaut: Image.Image) -> None:
    # The face is ~5% of the longest side, at an off-centre spot of a wide picture.
    scene = Image.new("RGB", (1600, 900), (90, 110, 130))
    scene.paste(astronaut.resize((384, 384), Image.Resampling.BICUBIC), (1100, 300))

    crop = face_crop(scene)

    assert crop.detected
    assert_square_inside(crop, scene.size)
    assert_covers(crop.box, scaled(FACE, 1.5, 1100, 300))


def test_face_crop_clamps_a_face_at_the_edge(astronaut: Image.Image) -> None:
    # Cut the picture just above the hair: the grown square must move down, not stick out.
    cropped = astronaut.crop((40, 25, 256, 256))

    crop = face_crop(cropped)

    assert crop.detected
    assert crop.box[1] == 0
    assert_square_inside(crop, cropped.size)


@pytest.mark.parametrize(
    ("size", "box"),
    [
        # side 0.6 × shorter side, centred horizontally, centre 3/8 of the way down
        ((300, 200), (90, 15, 210, 135)),
        ((200, 300), (40, 52, 160, 172)),
        ((1000, 100), (470, 8, 530, 68)),
    ],
)
def test_face_crop_falls_back_to_a_portrait_square(
    size: tuple[int, int], box: tuple[int, int, int, int]
) -> None:
    crop = face_crop(Image.new("RGB", size, (128, 128, 128)))

    assert not crop.detected
    assert crop.box == box
    assert_square_inside(crop, size)


def test_face_crop_finds_no_face_in_noise() -> None:
    rng = np.random.default_rng(7)
    noise = Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))

    crop = face_crop(noise)

    assert not crop.detected
    assert crop.box == (176, 36, 464, 324)


def test_face_crop_falls_back_without_opencv(
    astronaut: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine.faces, "_cascade", lambda: None)

    crop = face_crop(astronaut)

    assert not crop.detected
    assert crop.box == (51, 19, 205, 173)


@pytest.mark.parametrize(
    "mode", ["L", "P", "RGBA", "LA", "PA", "CMYK", "YCbCr", "I", "F", "I;16", "RGBa", "La"]
)
def test_face_crop_accepts_any_mode(astronaut: Image.Image, mode: str) -> None:
    if mode == "I;16":
        gray = np.asarray(astronaut.convert("L"), dtype=np.uint16) * 200
        image = Image.frombytes(mode, astronaut.size, gray.astype("<u2").tobytes())
    else:
        image = (astronaut.convert("P") if mode == "PA" else astronaut).convert(mode)

    crop = face_crop(image)

    assert crop.detected
    assert_covers(crop.box, FACE)
    assert_square_inside(crop, astronaut.size)


def test_face_crop_puts_transparency_on_white() -> None:
    crop = face_crop(Image.new("RGBA", (64, 64), (255, 0, 0, 0)))

    assert crop.image.getextrema() == ((255, 255), (255, 255), (255, 255))


@pytest.mark.parametrize(
    "size", [(1, 1), (2, 3), (1, 5000), (5000, 1), (4000, 7), (23, 23), (24, 24)]
)
def test_face_crop_handles_tiny_and_extreme_sizes(size: tuple[int, int]) -> None:
    crop = face_crop(Image.new("L", size, 200))

    assert not crop.detected
    assert_square_inside(crop, size)


def test_face_crop_rejects_an_empty_image() -> None:
    with pytest.raises(InvalidRequestError, match="empty"):
        face_crop(Image.new("RGB", (0, 0)))
