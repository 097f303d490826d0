"""Control images: edges, line art and depth measured on pictures of known geometry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from engine.errors import InvalidRequestError, ModelLoadError
from engine.structure import (
    DepthEstimator,
    Structure,
    control_image,
    depth_map,
    edge_map,
    sketch_map,
)
from engine.structure.maps import edge_thresholds, looks_like_drawing

WIDTH, HEIGHT = 240, 180


def white(image: Image.Image) -> np.ndarray:
    """The white pixels of a white-on-black map, after checking it is one."""
    assert image.mode == "RGB"
    assert image.size == (WIDTH, HEIGHT)
    pixels = np.asarray(image)
    assert set(np.unique(pixels)) <= {0, 255}
    assert (pixels == pixels[..., :1]).all()  # grey: the three channels agree
    return np.asarray(pixels[..., 0] == 255)


def distance_to(mask: np.ndarray) -> np.ndarray:
    """Each pixel's Euclidean distance to the nearest pixel of ``mask``."""
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def ring(region: np.ndarray, radius: int = 1) -> np.ndarray:
    """The pixels within ``radius`` of the region's boundary, on both sides."""
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    grown = cv2.dilate(region.astype(np.uint8), kernel) > 0
    shrunk = cv2.erode(region.astype(np.uint8), kernel) > 0
    return grown & ~shrunk


def shapes(
    background: int, fill: int, noise: float, seed: int = 0
) -> tuple[Image.Image, np.ndarray]:
    """A square and a disc of grey ``fill`` on ``background``, with pixel noise; and the
    true region of the shapes."""
    region = Image.new("L", (WIDTH, HEIGHT), 0)
    draw = ImageDraw.Draw(region)
    draw.rectangle((30, 40, 100, 130), fill=255)
    draw.ellipse((130, 30, 210, 110), fill=255)
    inside = np.asarray(region) > 0
    grey = np.where(inside, float(fill), float(background))
    grey = grey + np.random.default_rng(seed).normal(0.0, noise, grey.shape)
    pixels = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([pixels] * 3, axis=-1)), inside


def precision_recall(
    found: np.ndarray, region: np.ndarray, tolerance: float
) -> tuple[float, float]:
    """Share of ``found`` pixels within ``tolerance`` of the region's outline, and share of the
    outline with a ``found`` pixel within ``tolerance``."""
    outline = ring(region)
    precision = float((distance_to(outline)[found] <= tolerance).mean())
    boundary = region & ~(cv2.erode(region.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    recall = float((distance_to(found)[boundary] <= tolerance).mean())
    return precision, recall


@pytest.mark.parametrize(
    ("background", "fill"),
    [(90, 200), (128, 40), (235, 165), (20, 110)],
    ids=["dim", "mid-grey", "light", "dark"],  # thresholds (60, 121), (80, 160) twice, (20, 50)
)
def test_edge_map_traces_the_outline_and_nothing_else(background: int, fill: int) -> None:
    image, region = shapes(background, fill, noise=3.0)
    edges = white(edge_map(image))
    precision, recall = precision_recall(edges, region, tolerance=2.0)
    assert precision >= 0.9  # measured 1.000 on all four
    assert recall >= 0.9  # measured 1.000 on all four
    assert int((edges & (distance_to(ring(region)) > 3)).sum()) == 0  # flat areas stay black


def test_edge_thresholds_follow_the_median_within_clamps() -> None:
    assert edge_thresholds(np.full((4, 4), 100, np.uint8)) == pytest.approx((66.0, 133.0))
    assert edge_thresholds(np.zeros((4, 4), np.uint8)) == (20.0, 50.0)  # floors: no noise edges
    assert edge_thresholds(np.full((4, 4), 255, np.uint8)) == (80.0, 160.0)  # ceilings


def line_drawing(seed: int = 0) -> tuple[Image.Image, np.ndarray]:
    """Dark anti-aliased strokes on slightly shaded paper with grain: drawn at 4× and
    reduced. The truth is where the strokes cover at least half a pixel."""
    scale = 4
    strokes = Image.new("L", (WIDTH * scale, HEIGHT * scale), 0)
    draw = ImageDraw.Draw(strokes)

    def at(*points: float) -> list[float]:
        return [p * scale for p in points]

    draw.line(at(15, 20, 110, 60, 190, 25, 225, 165), fill=255, width=3 * scale)
    draw.ellipse(at(35, 75, 135, 165), outline=255, width=3 * scale)
    draw.line(at(60, 172, 230, 95), fill=255, width=2 * scale)
    cover = np.asarray(strokes.resize((WIDTH, HEIGHT), Image.Resampling.BOX), np.float32) / 255
    paper = np.linspace(250.0, 222.0, WIDTH)[None, :] * np.ones((HEIGHT, 1))
    grey = paper * (1 - cover) + 35.0 * cover
    grey += np.random.default_rng(seed).normal(0.0, 3.0, grey.shape)
    pixels = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return Image.fromarray(np.stack([pixels] * 3, axis=-1)), cover >= 0.5


def dilated(mask: np.ndarray) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_sketch_of_a_drawing_is_its_strokes() -> None:
    image, lines = line_drawing()
    assert looks_like_drawing(np.asarray(image.convert("L")))
    sketch = white(sketch_map(image))
    assert iou(dilated(sketch), dilated(lines)) >= 0.8  # measured 0.919 (undilated: 0.858)


@pytest.mark.parametrize(
    ("level", "noise"), [(255, 0.0), (128, 3.0), (30, 5.0)], ids=["white", "grey", "dark"]
)
def test_sketch_of_a_flat_image_is_empty(level: int, noise: float) -> None:
    grey = level + np.random.default_rng(1).normal(0.0, noise, (HEIGHT, WIDTH))
    pixels = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    sketch = white(sketch_map(Image.fromarray(np.stack([pixels] * 3, axis=-1))))
    assert float(sketch.mean()) <= 0.001  # measured 0.0


def test_sketch_of_a_photo_follows_its_outlines() -> None:
    # A darker disc and square on a mid-grey, unevenly lit background: not a drawing, so
    # the lines come from the difference of Gaussians.
    image, region = shapes(140, 70, noise=4.0)
    shading = np.linspace(-20.0, 20.0, WIDTH)[None, :, None]
    image = Image.fromarray(np.clip(np.asarray(image) + shading, 0, 255).astype(np.uint8))
    assert not looks_like_drawing(np.asarray(image.convert("L")))
    sketch = white(sketch_map(image))
    precision, recall = precision_recall(sketch, region, tolerance=3.0)
    assert precision >= 0.9  # measured 1.000
    assert recall >= 0.9  # measured 1.000


@pytest.fixture(scope="module")
def tiny_depth() -> DepthEstimator:
    estimator = DepthEstimator("builtin:tiny")
    estimator.load()
    return estimator


def test_depth_map_of_builtin_tiny_spans_the_full_range(tiny_depth: DepthEstimator) -> None:
    image, _ = shapes(200, 60, noise=2.0)
    depth = depth_map(image, tiny_depth)
    assert depth.mode == "RGB"
    assert depth.size == image.size
    pixels = np.asarray(depth)
    assert (pixels == pixels[..., :1]).all()
    assert (int(pixels.min()), int(pixels.max())) == (0, 255)  # normalised per picture
    again = depth_map(image, DepthEstimator("builtin:tiny"))
    assert np.array_equal(np.asarray(again), pixels)  # fixed seed: the same model every time


def test_depth_map_keeps_an_odd_size(tiny_depth: DepthEstimator) -> None:
    image = Image.new("RGB", (97, 61), (90, 120, 150))
    ImageDraw.Draw(image).ellipse((20, 10, 70, 50), fill=(250, 240, 30))
    assert depth_map(image, tiny_depth).size == (97, 61)


def test_depth_without_an_estimator_is_refused() -> None:
    image, _ = shapes(128, 40, noise=0.0)
    with pytest.raises(InvalidRequestError, match="depth"):
        control_image(image, Structure.DEPTH, None)


def test_control_image_dispatches_on_the_structure() -> None:
    image, _ = shapes(128, 40, noise=2.0)
    assert np.array_equal(np.asarray(control_image(image, "edges")), np.asarray(edge_map(image)))
    assert np.array_equal(
        np.asarray(control_image(image, Structure.SKETCH)), np.asarray(sketch_map(image))
    )
    with pytest.raises(InvalidRequestError, match="structure 'normals'"):
        control_image(image, "normals")


def test_depth_model_in_a_missing_folder_fails_to_load(tmp_path: Path) -> None:
    folder = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match="no-such-model"):
        DepthEstimator(str(folder)).load()


def test_import_does_not_load_torch() -> None:
    code = "import sys, engine.structure; print('torch' in sys.modules, 'cv2' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
