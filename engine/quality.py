"""Choosing a lossy quality that fits a byte limit: exact search, or prediction from a probe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from PIL import Image

__all__ = ["highest_quality", "predicted_quality", "probe"]

MAX_QUALITY = 100
# Images above this many pixels are measured on a 512² probe before any full encode.
PROBE_BELOW = 1024 * 1024
PROBE_TILE = 128
PROBE_TILES = 4
PREDICTION_MARGIN = 1.04  # aim 4% under the limit: probes predict within a few percent
SURE_MISS = 1.25  # a prediction this far over the limit skips the full encode


class Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


T = TypeVar("T", bound=Sized)


def probe(image: Image.Image) -> Image.Image | None:
    """A mosaic of 4×4 evenly spread 128² crops of a large image (its bytes per pixel
    predict the whole image's), or ``None`` when the image is small enough to search."""
    if image.width * image.height <= PROBE_BELOW:
        return None
    side, count = PROBE_TILE, PROBE_TILES
    tile_w, tile_h = min(side, image.width // count), min(side, image.height // count)
    mosaic = Image.new(image.mode, (tile_w * count, tile_h * count))
    for row in range(count):
        for column in range(count):
            left = (image.width - tile_w) * column // (count - 1)
            top = (image.height - tile_h) * row // (count - 1)
            crop = image.crop((left, top, left + tile_w, top + tile_h))
            mosaic.paste(crop, (column * tile_w, row * tile_h))
    return mosaic


def predicted_quality(
    encode_at: Callable[[int], T],
    predict: Callable[[int], float],
    max_bytes: int,
    min_quality: int,
) -> tuple[T | None, int]:
    """A high quality that fits, from at most two full encodes in the common case: the
    highest quality the probe predicts to fit (with a margin); if the real size misses,
    the prediction is corrected by the measured ratio and the next quality tried; only if
    that misses as well does the exact search run below it."""
    predictions: dict[int, float] = {}

    def predicted(quality: int) -> float:
        if quality not in predictions:
            predictions[quality] = predict(quality)
        return predictions[quality]

    if predicted(min_quality) > max_bytes * SURE_MISS:
        return None, 0  # even the floor misses by far: downscale without a full encode
    encodes = 0
    correction = PREDICTION_MARGIN
    high = MAX_QUALITY + 1  # the lowest quality known (or predicted) not to fit
    for _ in range(2):
        quality = highest_predicted_quality(predicted, max_bytes / correction, min_quality, high)
        encoded = encode_at(quality)
        encodes += 1
        if encoded.nbytes <= max_bytes:
            return encoded, encodes
        high = quality
        correction = max(correction, encoded.nbytes / predicted(quality) * PREDICTION_MARGIN)
        if quality == min_quality:
            return None, encodes
    best, tries = highest_quality(lambda q: encode_at(min(q, high - 1)), max_bytes, min_quality)
    return best, encodes + tries


def highest_predicted_quality(
    predicted: Callable[[int], float], budget: float, low: int, high: int
) -> int:
    """The highest quality in ``low..high-1`` predicted within ``budget`` (else ``low``),
    by binary search on the probe."""
    if predicted(high - 1) <= budget:
        return high - 1
    top = high - 1  # predicted over budget
    while top - low > 1:
        middle = (low + top) // 2
        if predicted(middle) <= budget:
            low = middle
        else:
            top = middle
    return low


def highest_quality(
    encode_at: Callable[[int], T], max_bytes: int, min_quality: int
) -> tuple[T | None, int]:
    """The highest-quality encoding in ``min_quality..100`` that fits, and the encodes spent.

    Probe order is chosen for the two common cases: after a PNG near-miss, quality 100 almost
    always fits (1 encode); in the downscale loop the floor usually fails (2 encodes). Otherwise
    a binary search over the 49 qualities in between costs at most 6 more. The result's quality
    is known to fit and quality + 1 is known not to, even where size is not monotonic.
    """
    encodes = 0

    def fits(quality: int) -> T | None:
        nonlocal encodes
        encodes += 1
        encoded = encode_at(quality)
        return encoded if encoded.nbytes <= max_bytes else None

    top = fits(MAX_QUALITY)
    if top is not None:
        return top, encodes
    best = fits(min_quality) if min_quality < MAX_QUALITY else None
    if best is None:
        return None, encodes
    low, high = min_quality, MAX_QUALITY  # invariant: low fits, high does not
    while high - low > 1:
        middle = (low + high) // 2
        candidate = fits(middle)
        if candidate is None:
            high = middle
        else:
            low, best = middle, candidate
    return best, encodes
