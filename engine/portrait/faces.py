"""Faces for portraits: detection, five landmarks and a 128-d identity embedding.

:class:`FaceModels` is the interface; :class:`DlibFaces` implements it with dlib (the PyPI
wheel ``dlib-bin``) and the models of the ``face_recognition_models`` package: the HOG frontal
face detector (in dlib itself), ``shape_predictor_5_face_landmarks.dat`` and
``dlib_face_recognition_resnet_model_v1.dat`` (both CC0; the 68-point model, whose training data
bars commercial use, is never loaded). Two photos of one person are closer than
:data:`SAME_PERSON` (0.6, dlib's threshold). Another embedder (OpenCV's SFace…) plugs in by
implementing :class:`FaceModels`.

Everything here blocks (model loading ~1 s, a 512² photo ~0.2 s): call it off the event loop.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from engine.errors import ModelLoadError

__all__ = ["SAME_PERSON", "DlibFaces", "Face", "FaceModels", "default_faces"]

SAME_PERSON = 0.6
"""Embedding distance below which two faces are the same person (dlib's calibration)."""
DETECTION_THRESHOLD = 0.5
"""HOG detector score a face must reach (true faces score ~1; clutter 0–0.3)."""
UPSAMPLE = 1
"""Detector upsampling: finds faces down to ~40 px."""
LANDMARKS = "shape_predictor_5_face_landmarks.dat"
RECOGNITION = "dlib_face_recognition_resnet_model_v1.dat"


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face: its box (left, top, right, bottom), detector score, and five
    landmarks (x, y): two corners of each eye, then the base of the nose."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: tuple[tuple[float, float], ...]

    @property
    def size(self) -> float:
        """The box's side (its mean of width and height), in pixels."""
        left, top, right, bottom = self.box
        return ((right - left) + (bottom - top)) / 2

    @property
    def area(self) -> float:
        left, top, right, bottom = self.box
        return float((right - left) * (bottom - top))

    @property
    def eyes(self) -> tuple[np.ndarray, np.ndarray]:
        """The eye centres, the one further left in the image first."""
        points = np.asarray(self.landmarks, dtype=np.float64)
        first, second = points[0:2].mean(0), points[2:4].mean(0)
        return (first, second) if first[0] <= second[0] else (second, first)


class FaceModels(Protocol):
    def detect(self, image: Image.Image) -> list[Face]:
        """The faces in ``image``, largest first."""
        ...

    def embed(self, image: Image.Image, face: Face) -> np.ndarray:
        """The identity embedding of ``face`` in ``image`` (unit-free, 128 floats)."""
        ...


class DlibFaces:
    """dlib's detector, 5-point landmarks and ResNet embedding (loaded on first use)."""

    def __init__(self, models_dir: Path | None = None) -> None:
        self.models_dir = models_dir
        self._lock = threading.Lock()
        self._parts: tuple[Any, Any, Any] | None = None

    def detect(self, image: Image.Image) -> list[Face]:
        detector, predictor, _ = self._load()
        pixels = _pixels(image)
        rectangles, scores, _ = detector.run(pixels, UPSAMPLE, DETECTION_THRESHOLD)
        faces = []
        for rectangle, score in zip(rectangles, scores, strict=True):
            shape = predictor(pixels, rectangle)
            box = (rectangle.left(), rectangle.top(), rectangle.right(), rectangle.bottom())
            points = tuple((float(p.x), float(p.y)) for p in shape.parts())
            faces.append(Face(box, float(score), points))
        return sorted(faces, key=lambda f: -f.area)

    def embed(self, image: Image.Image, face: Face) -> np.ndarray:
        import dlib

        _, predictor, recogniser = self._load()
        pixels = _pixels(image)
        left, top, right, bottom = face.box
        shape = predictor(pixels, dlib.rectangle(left, top, right, bottom))
        return np.asarray(recogniser.compute_face_descriptor(pixels, shape), dtype=np.float64)

    def _load(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._parts is None:
                try:
                    import dlib
                except ImportError as error:
                    raise ModelLoadError(
                        "portraits need dlib: pip install dlib-bin face_recognition_models"
                    ) from error
                folder = self.models_dir or _packaged_models()
                self._parts = (
                    dlib.get_frontal_face_detector(),
                    dlib.shape_predictor(str(_model(folder, LANDMARKS))),
                    dlib.face_recognition_model_v1(str(_model(folder, RECOGNITION))),
                )
            return self._parts


@functools.cache
def default_faces() -> DlibFaces:
    """The process's dlib face models (one copy: they are read-only once loaded)."""
    return DlibFaces()


def _packaged_models() -> Path:
    """``face_recognition_models``' folder, found without importing it (its ``__init__``
    needs ``pkg_resources``, gone from recent setuptools)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("portraits need the face models: pip install face_recognition_models")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _model(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise ModelLoadError(f"face model {path} is missing (pip install face_recognition_models)")
    return path


def _pixels(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
