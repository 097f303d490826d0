"""The subject of a picture: GrabCut on synthetic product shots, the segmenter settings, and
pasting the subject back with exact pixels outside the seam."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from engine.errors import InvalidRequestError, ModelLoadError
from engine.structure import (
    GrabCutSegmenter,
    TransformersSegmenter,
    load_segmenter,
    paste_subject,
    seam_band,
    subject_mask,
)


def product_shot(
    width: int, height: int, *, gradient: bool, label: bool, seed: int = 0
) -> tuple[Image.Image, np.ndarray]:
    """A textured green ellipse (stripes and grain, optionally a pale label close to the
    background's colour) on a plain or gradient backdrop; and the ellipse's true region."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    backdrop = np.empty((height, width, 3), np.float32)
    if gradient:
        backdrop[..., 0] = 200 + 40 * xs / width
        backdrop[..., 1] = 210 + 30 * ys / height
        backdrop[..., 2] = 230
    else:
        backdrop[...] = 235
    backdrop += rng.normal(0.0, 4.0, backdrop.shape)
    truth = Image.new("L", (width, height), 0)
    box = (width * 0.3, height * 0.15, width * 0.7, height * 0.88)
    ImageDraw.Draw(truth).ellipse(box, fill=255)
    region = np.asarray(truth) > 0
    thing = np.empty((height, width, 3), np.float32)
    thing[...] = (60, 120, 70)
    thing += 30 * np.sin(xs / 5 + ys / 9)[..., None]
    thing += rng.normal(0.0, 20.0, thing.shape)
    if label:
        thing[int(height * 0.45) : int(height * 0.55), int(width * 0.42) : int(width * 0.58)] = (
            215,
            222,
            228,
        )
    pixels = np.where(region[..., None], thing, backdrop)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)), region


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def binary_mask(mask: Image.Image, size: tuple[int, int]) -> np.ndarray:
    assert mask.mode == "L"
    assert mask.size == size
    pixels = np.asarray(mask)
    assert set(np.unique(pixels)) <= {0, 255}
    return np.asarray(pixels == 255)


@pytest.mark.parametrize(
    ("gradient", "label"), [(False, False), (True, True)], ids=["plain", "gradient-label"]
)
def test_grabcut_finds_the_product(gradient: bool, label: bool) -> None:
    image, region = product_shot(320, 240, gradient=gradient, label=label)
    found = binary_mask(GrabCutSegmenter().subject(image), image.size)
    assert iou(found, region) >= 0.85  # measured 1.000 on both


def test_grabcut_works_on_a_reduced_copy() -> None:
    # 640×480 cut at 256 px long: the mask comes back at full size, edges within a pixel
    image, region = product_shot(640, 480, gradient=True, label=True, seed=1)
    found = binary_mask(GrabCutSegmenter(max_side=256).subject(image), image.size)
    assert iou(found, region) >= 0.85  # measured 0.986


def test_grabcut_follows_a_subject_cut_by_the_frame() -> None:
    # A bust: head and shoulders running off the bottom edge, through the border strip
    # that GrabCut starts out taking for background.
    width, height = 320, 240
    truth = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(truth)
    draw.ellipse((120, 30, 200, 130), fill=255)
    draw.rounded_rectangle((70, 120, 250, height + 40), radius=40, fill=255)
    region = np.asarray(truth) > 0
    rng = np.random.default_rng(3)
    shape = (height, width, 3)
    backdrop = np.full(shape, (70.0, 90.0, 140.0)) + rng.normal(0, 5, shape)
    person = np.full(shape, (220.0, 140.0, 60.0)) + rng.normal(0, 20, shape)
    pixels = np.where(region[..., None], person, backdrop)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    found = binary_mask(GrabCutSegmenter().subject(image), image.size)
    assert iou(found, region) >= 0.85  # measured 0.999 (0.928 without the strip round)
    bottom = slice(height - 10, height)  # the strip (4 % of 240 px) and a little more
    assert float(found[bottom][region[bottom]].mean()) >= 0.9  # measured 0.998 (0.0 without)


def test_grabcut_finds_nothing_in_a_flat_picture() -> None:
    found = binary_mask(GrabCutSegmenter().subject(Image.new("RGB", (64, 48), "grey")), (64, 48))
    assert int(found.sum()) == 0


def test_grabcut_refuses_a_tiny_image() -> None:
    with pytest.raises(InvalidRequestError, match="16 px"):
        GrabCutSegmenter().subject(Image.new("RGB", (12, 40)))


def noise(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def subject_shape(width: int, height: int) -> Image.Image:
    # an ellipse, and a block touching the left and bottom edges of the frame
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    draw.ellipse((40, 20, 160, 130), fill=255)
    draw.rectangle((0, 100, 60, height - 1), fill=255)
    return mask


@pytest.mark.parametrize("seam_px", [0, 1, 3, 6])
def test_paste_subject_is_exact_outside_the_seam(seam_px: int) -> None:
    source, generated = noise(200, 150, 1), noise(200, 150, 2)
    subject = subject_shape(200, 150)
    out = np.asarray(paste_subject(source, generated, subject, seam_px))
    inside = np.asarray(subject) == 255
    band = seam_band(subject, seam_px)
    not_source = (out != np.asarray(source)).any(axis=-1)
    not_generated = (out != np.asarray(generated)).any(axis=-1)
    assert int((inside & ~band & not_source).sum()) == 0
    assert int((~inside & ~band & not_generated).sum()) == 0
    blended = int((not_source & not_generated).sum())
    if seam_px == 0:
        assert int(band.sum()) == 0
        assert blended == 0  # a hard cut
    else:
        assert blended > 0  # measured 769, 2377, 4760 px for seams 1, 3, 6
        assert int((band & ~(not_source & not_generated)).sum()) > 0  # the band is a bound


def test_paste_subject_feathers_inwards_from_the_outline() -> None:
    # White subject over a black repaint: along a row the paste rises from 0 at the
    # outline to 255 at twice the seam inside it.
    subject = Image.new("L", (200, 150), 0)
    ImageDraw.Draw(subject).rectangle((50, 30, 150, 120), fill=255)
    white = Image.new("RGB", (200, 150), (255, 255, 255))
    black = Image.new("RGB", (200, 150), (0, 0, 0))
    row = np.asarray(paste_subject(white, black, subject, 4))[75, :, 0].astype(int)
    assert (row[:50] == 0).all()  # outside: the repaint
    assert (row[58:100] == 255).all()  # beyond 2 × 4 px inside: the subject
    assert (np.diff(row[49:59]) >= 0).all()
    assert 0 < row[53] < 255  # measured 5, 31, 68, 104, 151, 187, 224, 250 from x = 50


def test_paste_subject_refuses_what_does_not_fit() -> None:
    source = noise(64, 48, 1)
    with pytest.raises(InvalidRequestError, match="generated is 48×64"):
        paste_subject(source, noise(48, 64, 2), Image.new("L", (64, 48)), 2)
    with pytest.raises(InvalidRequestError, match="seam_px"):
        paste_subject(source, noise(64, 48, 2), Image.new("L", (64, 48)), -1)


@pytest.mark.parametrize(
    ("setting", "kind"),
    [
        (None, None),
        ("", None),
        (" None ", None),
        ("grabcut", GrabCutSegmenter),
        ("GrabCut", GrabCutSegmenter),
        ("builtin:tiny", TransformersSegmenter),
        ("briaai/RMBG-2.0", TransformersSegmenter),
        ("/models/birefnet", TransformersSegmenter),
    ],
)
def test_load_segmenter_maps_the_setting(setting: str | None, kind: type | None) -> None:
    segmenter = load_segmenter(setting)
    if kind is None:
        assert segmenter is None
    else:
        assert isinstance(segmenter, kind)
    if setting and setting.startswith(("briaai", "/")):
        assert isinstance(segmenter, TransformersSegmenter)
        assert segmenter.source.value == setting  # nothing loaded or checked yet


def test_builtin_tiny_segmenter_gives_a_binary_mask() -> None:
    image, _ = product_shot(150, 100, gradient=True, label=False)
    segmenter = load_segmenter("builtin:tiny")
    assert segmenter is not None
    mask = subject_mask(image, segmenter)
    found = binary_mask(mask, image.size)
    other = load_segmenter("builtin:tiny")
    assert other is not None
    assert np.array_equal(found, binary_mask(other.subject(image), image.size))  # fixed seed


class GreySegmenter:
    """A segmenter whose mask has soft values, as a matting model's would."""

    def subject(self, image: Image.Image) -> Image.Image:
        ramp = np.tile(np.linspace(0, 255, image.width).astype(np.uint8), (image.height, 1))
        return Image.fromarray(ramp, mode="L")


def test_subject_mask_splits_soft_masks_at_half() -> None:
    found = binary_mask(subject_mask(noise(256, 10, 0), GreySegmenter()), (256, 10))
    assert found[:, :128].sum() == 0
    assert found[:, 128:].all()


def test_transformers_segmenter_in_a_missing_folder_fails_to_load(tmp_path: Path) -> None:
    folder = tmp_path / "no-such-birefnet"
    segmenter = TransformersSegmenter(str(folder))
    with pytest.raises(ModelLoadError, match="no-such-birefnet"):
        segmenter.subject(noise(32, 32, 0))
