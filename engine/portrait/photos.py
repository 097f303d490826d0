"""Training photos for a portrait LoRA, prepared as FaceChain prepares them.

Each photo gets a :class:`Verdict`: kept, or why not (no face, several faces, face too small,
too blurry). A kept photo is rotated upright about its face (the eyes level, from the
landmarks) and cropped square around it — a side of :data:`CROP_FACTOR` × the face's size, the
face's centre at :data:`FACE_HEIGHT` of the crop's height, horizontally centred — then resized
to the model's side. Where the crop leaves the photo, the photo's edge pixels are repeated.

Two faces are one face when the largest is at least :data:`DOMINANT_RATIO` times the next in
area (a portrait with a face in the background).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from PIL import Image

from engine.portrait.faces import Face, FaceModels

__all__ = [
    "CROP_FACTOR",
    "DOMINANT_RATIO",
    "FACE_HEIGHT",
    "MIN_FACE_PX",
    "MIN_SHARPNESS",
    "PreparedPhoto",
    "Verdict",
    "align_and_crop",
    "clear_face",
    "prepare_photo",
    "sharpness",
]

CROP_FACTOR = 3.29
FACE_HEIGHT = 0.435
DOMINANT_RATIO = 4.0
MIN_FACE_PX = 64
"""A face box narrower than this (pixels) is too small to learn a face from."""
MIN_SHARPNESS = 20.0
"""Variance of the Laplacian of the face (grey, at 128²) below which it is too blurry."""


class Verdict(StrEnum):
    KEPT = "kept"
    NO_FACE = "no face"
    SEVERAL_FACES = "several faces"
    FACE_TOO_SMALL = "face too small"
    TOO_BLURRY = "too blurry"


@dataclass(frozen=True, slots=True)
class PreparedPhoto:
    verdict: Verdict
    reason: str
    """The verdict in words, with the measurement (``face 41 px wide; at least 64 needed``)."""
    crop: Image.Image | None = None
    """The aligned square crop (kept photos only)."""
    embedding: np.ndarray | None = None
    """The face's identity embedding (kept photos only)."""
    face: Face | None = None


def clear_face(found: list[Face]) -> Face | None:
    """The one face of a picture (faces largest first): the only one, or one at least
    :data:`DOMINANT_RATIO` times the next in area; ``None`` for none or several."""
    if not found or (len(found) > 1 and found[0].area < DOMINANT_RATIO * found[1].area):
        return None
    return found[0]


def prepare_photo(image: Image.Image, faces: FaceModels, side: int = 512) -> PreparedPhoto:
    """``image``'s verdict and, if kept, its aligned crop at ``side``² and embedding."""
    image = image.convert("RGB")
    found = faces.detect(image)
    if not found:
        return PreparedPhoto(Verdict.NO_FACE, "no face found")
    face = clear_face(found)
    if face is None:
        return PreparedPhoto(Verdict.SEVERAL_FACES, f"{len(found)} faces; use photos of you alone")
    width = face.box[2] - face.box[0]
    if width < MIN_FACE_PX:
        return PreparedPhoto(
            Verdict.FACE_TOO_SMALL,
            f"face {width} px wide; at least {MIN_FACE_PX} needed (a closer or larger photo)",
            face=face,
        )
    measured = sharpness(image, face)
    if measured < MIN_SHARPNESS:
        return PreparedPhoto(
            Verdict.TOO_BLURRY,
            f"face sharpness {measured:.0f}; at least {MIN_SHARPNESS:.0f} needed",
            face=face,
        )
    crop = align_and_crop(image, face, side)
    return PreparedPhoto(Verdict.KEPT, "kept", crop, faces.embed(image, face), face)


def sharpness(image: Image.Image, face: Face) -> float:
    """Variance of the Laplacian over the face box, in grey, resized to 128²."""
    import cv2

    grey = np.asarray(image.crop(face.box).convert("L").resize((128, 128)), dtype=np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def align_and_crop(image: Image.Image, face: Face, side: int) -> Image.Image:
    """The eyes levelled, then the FaceChain crop around the face, at ``side``²."""
    left_eye, right_eye = face.eyes
    angle = math.degrees(math.atan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0]))
    left, top, right, bottom = face.box
    centre = ((left + right) / 2, (top + bottom) / 2)
    upright = _rotated(image, angle, centre)
    crop_side = CROP_FACTOR * face.size
    x0 = centre[0] - crop_side / 2
    y0 = centre[1] - FACE_HEIGHT * crop_side
    box = (x0, y0, x0 + crop_side, y0 + crop_side)
    return _crop_with_edges(upright, box).resize((side, side), Image.Resampling.LANCZOS)


def _rotated(image: Image.Image, angle: float, centre: tuple[float, float]) -> Image.Image:
    """``image`` turned by ``angle`` degrees about ``centre`` so that a line at ``angle``
    becomes level; edges repeated into the corners."""
    import cv2

    pixels = np.asarray(image)
    matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
    turned = cv2.warpAffine(
        pixels,
        matrix,
        (image.width, image.height),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return Image.fromarray(turned)


def _crop_with_edges(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    """``box`` of ``image``, the image's edge pixels repeated where the box leaves it."""
    x0, y0, x1, y1 = (round(v) for v in box)
    pad = max(0, -x0, -y0, x1 - image.width, y1 - image.height)
    if pad:
        padded = np.pad(np.asarray(image), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        image = Image.fromarray(padded)
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    return image.crop((x0, y0, x1, y1))
