"""Control images for ControlNets: the edges, line art or depth of a source picture.

Every map is an RGB image of the source's size with the structure in white on black, the
form the public Canny, scribble/lineart and depth ControlNets were trained on. Edges and line
art are plain OpenCV and need no weights; depth needs a :class:`DepthEstimator`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
from PIL import Image

from engine.errors import InvalidRequestError
from engine.request import StructureKind
from engine.structure.sources import ModelSource, seeded

__all__ = [
    "DEFAULT_DEPTH_MODEL",
    "DepthEstimator",
    "Structure",
    "control_image",
    "depth_map",
    "edge_map",
    "edge_thresholds",
    "looks_like_drawing",
    "sketch_map",
]

log = logging.getLogger(__name__)

DEFAULT_DEPTH_MODEL = "depth-anything/Depth-Anything-V2-Small-hf"

EDGE_LOW_RANGE = (20.0, 80.0)
EDGE_HIGH_RANGE = (50.0, 160.0)
"""Clamps on Canny's thresholds. Without the floors a dark picture (median near 0) would get
thresholds near 0 and every speck of sensor noise would become an edge. Without the ceilings
a light one would need a step of ~100 grey levels to make an edge (after the σ 1 blur a
sharp step of contrast C peaks at ~2.6 C in Canny's gradient); at 80/160 a step of ~30
continues an edge and ~60 starts one, close to ControlNet's own Canny preprocessor
(100/200 on unblurred pictures). The ceilings apply from a median of about 120 up."""

PAPER_MIN = 150.0
"""A drawing's paper is at least this light (0–255 grey)."""
PAPER_SHARE = 0.6
"""…and at least this share of the picture is bare paper."""
STROKE_DARKNESS = 0.2
"""A drawing's stroke is at least 20 % darker than the paper around it."""
PAPER_WINDOW = 11
"""Strokes up to 10 px wide come out whole; wider ones (filled areas) as 5-px bands inside
their outlines."""
LINE_SIGMAS = (1.0, 2.0)
"""The difference of Gaussians that finds a photo's lines: fine enough for thin lines,
wide enough to skip pixel noise."""
LINE_MIN_CONTRAST = 3.0
LINE_NOISE_FACTOR = 2.5
"""A photo's line is at least 3 grey levels and 2.5 robust standard deviations of the
difference of Gaussians darker than its surroundings (tuned by eye on scikit-image's sample
photos: 4 lost the astronaut's face, 2 kept the cat's fur as specks)."""
MIN_LINE_PIXELS = 12
"""Connected bits of line smaller than this are specks (noise, texture), not lines."""
TINY_DEPTH_SEED = 5
TINY_DEPTH_SIDE = 56
METRIC_MODEL_TYPES = frozenset({"zoedepth", "glpn", "depth_pro"})
"""Depth models that give distances (far = large) rather than Depth Anything's and DPT's
relative inverse depth (near = large)."""


Structure = StructureKind
"""What of the source picture a Retexture keeps (the request's enum, under this name)."""


def _grey(image: Image.Image) -> Any:
    return np.asarray(image.convert("L"), dtype=np.uint8)


def _white_on_black(lines: Any) -> Image.Image:
    pixels = np.where(lines, 255, 0).astype(np.uint8)
    return Image.fromarray(np.stack([pixels] * 3, axis=-1), mode="RGB")


def edge_thresholds(grey: Any) -> tuple[float, float]:
    """Canny's (low, high) thresholds for a grey picture: 0.66 and 1.33 × its median grey
    level (the usual automatic rule: the thresholds follow the picture's exposure), clamped to
    :data:`EDGE_LOW_RANGE` and :data:`EDGE_HIGH_RANGE`."""
    median = float(np.median(grey))
    low = float(np.clip(0.66 * median, *EDGE_LOW_RANGE))
    high = float(np.clip(1.33 * median, *EDGE_HIGH_RANGE))
    return low, high


def edge_map(image: Image.Image) -> Image.Image:
    """Canny edges of ``image``: white one-pixel edges on black, RGB, the image's size.

    The grey picture is smoothed first (Gaussian, σ 1): Canny in OpenCV does no smoothing of
    its own, and JPEG blocks or film grain would otherwise come out as edges.
    """
    import cv2

    grey = cv2.GaussianBlur(_grey(image), (5, 5), 1.0)
    low, high = edge_thresholds(grey)
    edges = cv2.Canny(grey, low, high, L2gradient=True)
    return _white_on_black(edges > 0)


def looks_like_drawing(grey: Any) -> bool:
    """Whether a grey picture is dark strokes on light paper: its paper (each pixel's
    lightest surroundings) is light, and most pixels are bare paper."""
    paper = _paper(grey)
    bare = grey.astype(np.float32) >= (1.0 - STROKE_DARKNESS / 2) * paper
    return float(np.median(paper)) >= PAPER_MIN and float(bare.mean()) >= PAPER_SHARE


def _paper(grey: Any) -> Any:
    # The lightest value within the window: the paper under any stroke narrower than the
    # window. Smoothed so that uneven lighting of a photographed page is followed gently.
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (PAPER_WINDOW, PAPER_WINDOW))
    lightest = cv2.dilate(grey, kernel)
    return cv2.GaussianBlur(lightest.astype(np.float32), (0, 0), 3.0)


def sketch_map(image: Image.Image) -> Image.Image:
    """Line art of ``image``: white lines on black, RGB, the image's size (the input of
    scribble and lineart ControlNets).

    * A drawing (:func:`looks_like_drawing`) gives its strokes: every pixel at least
      :data:`STROKE_DARKNESS` darker than the paper around it. Measuring against the local
      paper, not one global level, keeps pencil on a shaded photo of a page.
    * Anything else is a photo: lines are where a difference of Gaussians (σ 1 and 2) says a
      pixel is darker than its surroundings — one line along the dark side of each edge and
      along every thin dark feature, 2–3 px wide. The threshold adapts to the picture: at
      least :data:`LINE_MIN_CONTRAST` grey levels and :data:`LINE_NOISE_FACTOR` times the
      spread of the response over the whole picture, so busy texture needs more contrast
      to count as a line than a clean studio shot.

    Either way, specks smaller than :data:`MIN_LINE_PIXELS` are dropped, so what remains are
    continuous lines.
    """
    import cv2

    grey = _grey(image)
    if looks_like_drawing(grey):
        lines = grey.astype(np.float32) <= (1.0 - STROKE_DARKNESS) * _paper(grey)
    else:
        narrow = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), LINE_SIGMAS[0])
        wide = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), LINE_SIGMAS[1])
        response = wide - narrow
        # the median absolute deviation, scaled to a standard deviation: robust to the
        # lines themselves, which are few
        spread = 1.4826 * float(np.median(np.abs(response - np.median(response))))
        lines = response > max(LINE_MIN_CONTRAST, LINE_NOISE_FACTOR * spread)
    return _white_on_black(_without_specks(lines, MIN_LINE_PIXELS))


def _without_specks(lines: Any, min_pixels: int) -> Any:
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        lines.astype(np.uint8), connectivity=8
    )
    keep = stats[:, cv2.CC_STAT_AREA] >= min_pixels
    keep[0] = False  # label 0 is the background
    return keep[labels] if count > 1 else np.zeros_like(lines, dtype=bool)


class DepthEstimator:
    """A monocular depth model (transformers' ``AutoModelForDepthEstimation``), loaded on
    first use.

    ``source``: a Hub id (read from the local cache alone when ``HF_HUB_OFFLINE`` is set), a
    folder saved with ``save_pretrained``, or ``builtin:tiny``: a random Depth Anything a few
    kilobytes big, the same on every call, built in code with its image processor (nothing is
    downloaded) — its depth is meaningless but has the real model's form, for tests.

    :meth:`estimate` runs on the worker thread; the lock makes two first calls load once.
    """

    def __init__(
        self, source: str = DEFAULT_DEPTH_MODEL, *, device: str = "cpu", dtype: Any = None
    ) -> None:
        self.source = ModelSource(source, "depth")
        self.device = device
        self.dtype = dtype
        self._model: Any = None
        self._processor: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now (else the first :meth:`estimate` does); :class:`ModelLoadError`
        names the source and the fix if it cannot be."""
        with self._lock:
            if self._model is not None:
                return
            if self.source.builtin:
                model, processor = _tiny_depth_estimator()
            else:
                model, processor = self._from_pretrained()
            dtype = self.dtype if self.dtype is not None else _default_dtype(self.device)
            self._processor = processor
            self._model = model.to(device=self.device, dtype=dtype).eval()
            log.info("depth model %s on %s as %s", self.source.value, self.device, dtype)

    def _from_pretrained(self) -> tuple[Any, Any]:
        where, local = self.source.locate()
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        try:
            model = AutoModelForDepthEstimation.from_pretrained(where, local_files_only=local)
            processor = AutoImageProcessor.from_pretrained(where, local_files_only=local)
        except (OSError, ValueError, KeyError) as error:
            raise self.source.missing(error, local) from error
        return model, processor

    def estimate(self, image: Image.Image) -> Any:
        """How near each pixel of ``image`` is: a float32 (height, width) array, larger =
        nearer, in the model's own relative units."""
        import torch
        import torch.nn.functional as F

        self.load()
        inputs = self._processor(images=image.convert("RGB"), return_tensors="pt")
        pixels = inputs["pixel_values"].to(device=self.device, dtype=self._model.dtype)
        with torch.inference_mode():
            predicted = self._model(pixel_values=pixels).predicted_depth
        full = F.interpolate(
            predicted.float().unsqueeze(1),
            size=(image.height, image.width),
            mode="bicubic",
            align_corners=False,
        )
        depth = full[0, 0].cpu().numpy().astype(np.float32)
        return -depth if self._gives_distances() else depth

    def _gives_distances(self) -> bool:
        config = self._model.config
        metric = getattr(config, "depth_estimation_type", None) == "metric"
        return metric or getattr(config, "model_type", None) in METRIC_MODEL_TYPES


def _default_dtype(device: str) -> Any:
    import torch

    return torch.float16 if device.startswith("cuda") else torch.float32


def _tiny_depth_estimator() -> tuple[Any, Any]:
    """``builtin:tiny``: a two-layer Depth Anything with random weights and a DPT image
    processor at 56 px (multiples of the 14-pixel patch, aspect ratio kept)."""
    from transformers import DPTImageProcessorPil

    from engine.tiny_depth import tiny_depth_model

    with seeded(TINY_DEPTH_SEED):
        model = tiny_depth_model(TINY_DEPTH_SIDE)
    processor = DPTImageProcessorPil(
        size={"height": TINY_DEPTH_SIDE, "width": TINY_DEPTH_SIDE},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
    )
    return model, processor


def depth_map(image: Image.Image, estimator: DepthEstimator) -> Image.Image:
    """The depth of ``image``, nearest white and farthest black (each picture stretched to the
    full 0–255 range, as depth ControlNets were trained), RGB, the image's size. A picture
    with no depth differences at all gives black."""
    nearness = estimator.estimate(image)
    low, high = float(nearness.min()), float(nearness.max())
    if high - low <= 1e-6 * max(1.0, abs(high)):
        grey = np.zeros(nearness.shape, dtype=np.uint8)
    else:
        grey = np.rint((nearness - low) * (255.0 / (high - low))).astype(np.uint8)
    return Image.fromarray(np.stack([grey] * 3, axis=-1), mode="RGB")


def control_image(
    image: Image.Image, structure: Structure | str, depth: DepthEstimator | None = None
) -> Image.Image:
    """The ControlNet input that keeps ``structure`` of ``image``."""
    try:
        kind = Structure(structure)
    except ValueError:
        choices = ", ".join(item.value for item in Structure)
        raise InvalidRequestError(f"structure {structure!r} is not one of {choices}") from None
    if kind is Structure.EDGES:
        return edge_map(image)
    if kind is Structure.SKETCH:
        return sketch_map(image)
    if depth is None:
        raise InvalidRequestError(
            "structure depth needs a depth model, and none is configured: "
            "use edges or sketch, or configure a depth model"
        )
    return depth_map(image, depth)
