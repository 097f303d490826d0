"""Face crops for ``--cref``: the face region a face-focused IP-Adapter encodes.

Faces are found with OpenCV's frontal-face Haar cascade (``haarcascade_frontalface_alt2``),
which ``opencv-python-headless`` ships inside the wheel, so detection runs offline. Of the
faces found, the largest wins; its box grows by :data:`FACE_MARGIN` to take in hair and chin,
becomes a square on the face's centre and is moved (never stretched) to lie inside the image.

Fallback, when no face is found or OpenCV cannot be imported: a square of
:data:`FALLBACK_SIDE` of the shorter side, centred horizontally, its centre
:data:`FALLBACK_CENTRE_Y` of the way down: where a portrait's face usually is.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PIL import Image

from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    import cv2

__all__ = ["FACE_MARGIN", "FALLBACK_CENTRE_Y", "FALLBACK_SIDE", "FaceCrop", "face_crop"]

log = logging.getLogger(__name__)

CASCADE = "haarcascade_frontalface_alt2.xml"  # fewer false positives than "default", as fast
# The detector sees the image with its longest side brought into DETECT_SIDES (downscaled
# when larger, upscaled when smaller: the cascade's 20-pixel window needs a few pixels).
DETECT_SIDES = (320, 640)
SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 5
MIN_FACE = 0.0375  # of the working longest side (24 pixels at 640), and never under 20 pixels
FACE_MARGIN = 0.6  # the square's side is the face box's larger side × (1 + FACE_MARGIN)
FALLBACK_SIDE = 0.6
FALLBACK_CENTRE_Y = 0.375

_detect_lock = threading.Lock()  # one cascade object, shared: keep its use serial


@dataclass(frozen=True, slots=True)
class FaceCrop:
    """A square RGB crop around the reference's face.

    ``box`` is ``(left, top, right, bottom)`` in source pixels (right and bottom exclusive,
    as :meth:`PIL.Image.Image.crop` takes it); ``detected`` is False when the fallback was used.
    """

    image: Image.Image
    box: tuple[int, int, int, int]
    detected: bool


def face_crop(image: Image.Image) -> FaceCrop:
    """The largest face of ``image`` with a margin, or the documented fallback square."""
    if image.width < 1 or image.height < 1:
        raise InvalidRequestError("the character reference image is empty (0 pixels)")
    # 1. Flatten any mode (alpha over white, palette, CMYK, 16-bit…) to RGB.
    rgb = _to_rgb(image)
    width, height = rgb.size
    # 2. Detect on a grayscale copy at a working size (not histogram-equalised: on a large
    #    flat background that washes small faces out).
    face = _largest_face(rgb)
    # 3. Grow the face box into a square inside the image, or fall back.
    if face is None:
        side = max(1, round(FALLBACK_SIDE * min(width, height)))
        box = _square_inside(width / 2, FALLBACK_CENTRE_Y * height, side, width, height)
    else:
        left, top, right, bottom = face
        side = round(max(right - left, bottom - top) * (1 + FACE_MARGIN))
        centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
        box = _square_inside(centre_x, centre_y, side, width, height)
    return FaceCrop(rgb.crop(box), box, detected=face is not None)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("La", "RGBa"):  # premultiplied alpha
        image = image.convert("LA" if image.mode == "La" else "RGBA")
    if image.mode.startswith(("I", "F")):
        return _stretch_to_rgb(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _stretch_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float images: Pillow would clip them to 0..255, so stretch instead."""
    import numpy as np

    values = np.asarray(image, dtype=np.float64)
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) * (255 / (high - low)) if high > low else np.zeros_like(values)
    return Image.fromarray(scaled.round().astype(np.uint8), "L").convert("RGB")


def _largest_face(rgb: Image.Image) -> tuple[float, float, float, float] | None:
    cascade = _cascade()
    if cascade is None:
        return None
    import numpy as np

    width, height = rgb.size
    longest = min(max(width, height, DETECT_SIDES[0]), DETECT_SIDES[1])
    scale = longest / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    min_face = max(20, round(MIN_FACE * longest))
    if min(size) < min_face:
        return None
    gray = np.asarray(rgb.convert("L").resize(size, Image.Resampling.BILINEAR))
    with _detect_lock:
        faces = cascade.detectMultiScale(
            gray,
            scaleFactor=SCALE_FACTOR,
            minNeighbors=MIN_NEIGHBORS,
            minSize=(min_face, min_face),
        )
    if len(faces) == 0:
        return None
    x, y, w, h = max((tuple(int(v) for v in face) for face in faces), key=lambda f: f[2] * f[3])
    return x / scale, y / scale, (x + w) / scale, (y + h) / scale


@functools.cache
def _cascade() -> cv2.CascadeClassifier | None:
    """The shared cascade, or None (logged once) when OpenCV is unavailable."""
    try:
        import cv2
        import cv2.data
    except ImportError:
        log.warning("opencv is not installed: --cref face crops use the fallback square")
        return None
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
    if cascade.empty():
        log.warning("could not load %s: --cref face crops use the fallback square", CASCADE)
        return None
    return cascade


def _square_inside(
    centre_x: float, centre_y: float, side: int, width: int, height: int
) -> tuple[int, int, int, int]:
    side = max(1, min(side, width, height))
    left = min(max(round(centre_x - side / 2), 0), width - side)
    top = min(max(round(centre_y - side / 2), 0), height - side)
    return left, top, left + side, top + side
