"""Grid composition, cell cropping, previews and size-capped image encoding (synchronous)."""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

from PIL import Image

from engine.png import fast_png
from engine.quality import highest_quality, predicted_quality
from engine.quality import probe as find_probe

log = logging.getLogger(__name__)

# format name → (Pillow format, file extension, content type); the one table for all three.
_FORMATS: dict[str, tuple[str, str, str]] = {
    "png": ("PNG", ".png", "image/png"),
    "webp": ("WEBP", ".webp", "image/webp"),
    "jpeg": ("JPEG", ".jpg", "image/jpeg"),
}

# zlib levels 1-3 are its fast greedy matcher; 4+ switch to lazy matching. On 2048x2048 renders,
# level 3 takes ~0.4 s on one core, level 6 ~0.9-1.2 s for only 3-12 % fewer bytes, and a PNG
# that misses the upload limit by a few percent falls back to a visually lossless WebP anyway.

# libwebp's default effort: method 6 is twice as slow for ~1 % less, method 0 is ~10 % larger.
_WEBP_METHOD = 4
# Lossless WebP at method 1 is 10-40 % smaller than our PNG in ~0.3-0.7 s per 4 MP; beyond
# this ratio of PNG size to limit it cannot save enough, so the attempt is skipped.
_LOSSLESS_WEBP_REACH = 1.5
_MAX_QUALITY = 100
_SURE_MISS = 1.25  # a probe's prediction this far over the limit skips the full encode
_DOWNSCALE_STEP = 0.75
_MIN_SIDE = 64
# Format limits on either side, in pixels; bigger images skip that format instead of crashing.
_MAX_SIDE = {"webp": 16383, "jpeg": 65500}
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
# Modes a grid may mix: whether each carries colour and alpha. Anything else must match exactly.
_MIXABLE_MODES: dict[str, tuple[bool, bool]] = {
    "1": (False, False),
    "L": (False, False),
    "LA": (False, True),
    "RGB": (True, False),
    "RGBA": (True, True),
}
# Empty grid cells are opaque black, also in modes with alpha.
_OPAQUE_BLACK: dict[str, tuple[int, ...]] = {"LA": (0, 255), "RGBA": (0, 0, 0, 255)}


@dataclass(frozen=True, slots=True)
class EncodedImage:
    """An encoded image ready to upload.

    Attributes:
        data: the file's bytes (left out of ``repr`` so logs stay short).
        format: ``"png"``, ``"webp"`` or ``"jpeg"``.
        quality: the lossy quality 1-100, or ``None`` when lossless (PNG, lossless WebP).
        width, height: the encoded size in pixels, smaller than the input after a downscale.
    """

    data: bytes = field(repr=False)
    format: str
    quality: int | None
    width: int
    height: int

    @property
    def extension(self) -> str:
        """The file extension with its dot, e.g. ``".jpg"``."""
        return _FORMATS[self.format][1]

    @property
    def content_type(self) -> str:
        """The MIME type, e.g. ``"image/webp"``."""
        return _FORMATS[self.format][2]

    @property
    def nbytes(self) -> int:
        """The encoded size in bytes."""
        return len(self.data)


def compose_grid(images: Sequence[Image.Image], columns: int = 2) -> Image.Image:
    """Tile same-size images in reading order: for 4 images, 1 2 / 3 4 (1 = top-left).

    Rows = ceil(len / columns); a short last row leaves opaque black cells. Raises ValueError on
    an empty list, images of different sizes, or ``columns < 1``. Mixed modes meet in the first
    image's mode when converting to it loses nothing (L into RGB), else in the narrowest mode
    that holds them all (RGB with RGBA gives RGBA: alpha is never dropped). Palette images are
    expanded to RGB(A), since one grid cannot hold several palettes.
    """
    # 1. Check inputs.
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    if not images:
        raise ValueError("cannot compose a grid from no images")
    width, height = images[0].size
    for position, image in enumerate(images):
        if image.size != (width, height):
            raise ValueError(
                f"images[{position}] is {image.width}x{image.height} "
                f"but images[0] is {width}x{height}; grid cells must all be the same size"
            )
    # 2. Settle on one mode that every image converts to without loss.
    mode = _grid_mode(images)
    # 3. Paste in reading order onto a black canvas.
    rows = math.ceil(len(images) / columns)
    grid = Image.new(mode, (columns * width, rows * height), _OPAQUE_BLACK.get(mode, 0))
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        cell = image if image.mode == mode else image.convert(mode)
        grid.paste(cell, (column * width, row * height))
    return grid


def crop_cell(
    grid: Image.Image, index: int, cell_size: tuple[int, int], columns: int = 2
) -> Image.Image:
    """Cut cell ``index`` (0-based, reading order) back out of a grid, pixel for pixel.

    Raises IndexError when the cell lies outside the grid, ValueError on a bad size or columns.
    """
    width, height = cell_size
    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns}")
    if width < 1 or height < 1:
        raise ValueError(f"cell size must be positive, got {width}x{height}")
    row, column = divmod(index, columns)
    box = (column * width, row * height, (column + 1) * width, (row + 1) * height)
    if index < 0 or box[2] > grid.width or box[3] > grid.height:
        raise IndexError(
            f"cell {index} is outside a {grid.width}x{grid.height} grid "
            f"of {width}x{height} cells in {columns} columns"
        )
    return grid.crop(box)


def preview(image: Image.Image, max_side: int = 512) -> Image.Image:
    """A small copy (longest side <= max_side, aspect kept) for progress messages; no upscaling."""
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    scale = max_side / max(image.size)
    if scale >= 1:
        return image.copy()
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # reducing_gap box-averages first: several times faster than pure LANCZOS, same look at 512 px.
    return _resizable(image).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def encode_png(image: Image.Image) -> bytes:
    """Lossless PNG (``engine/png.py``'s fast encoder); modes PNG cannot store become RGB(A)."""
    if image.mode not in _PNG_MODES:
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    return fast_png(image)


def encode(image: Image.Image, format: str, quality: int | None = None) -> EncodedImage:
    """Encode ``image`` once as ``format``; ``quality=None`` means lossless (PNG, WebP only).

    JPEG has no alpha, so transparent images are composited on white first.
    """
    _check_formats([format])
    if quality is None and format == "jpeg":
        raise ValueError("JPEG needs a quality; it has no lossless mode")
    if quality is not None and (format == "png" or not 1 <= quality <= _MAX_QUALITY):
        raise ValueError(f"quality {quality} is not valid for {format} (1-100, lossy only)")
    return _encode_prepared(_prepare(image, format), format, quality)


def encode_to_fit(
    image: Image.Image,
    max_bytes: int,
    *,
    formats: Sequence[str] = ("png", "webp", "jpeg"),
    min_quality: int = 50,
) -> EncodedImage:
    """The best encoding of ``image`` that is at most ``max_bytes``.

    Formats are tried in the given order; the first that fits wins. PNG is lossless. WebP is
    first tried lossless (only when PNG was tried and missed by at most ``_LOSSLESS_WEBP_REACH``,
    as that is all it can save), then lossy. Lossy formats get the highest quality in
    ``min_quality..100`` that fits, by binary search (see ``_highest_quality``). When nothing
    fits, the image is downscaled by 0.75 steps (LANCZOS, aspect kept, always from the original
    to avoid compounding blur) down to a 64 px shortest side; then ValueError names the limit.
    """
    # 1. Check inputs.
    _check_formats(formats)
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    if not 1 <= min_quality <= _MAX_QUALITY:
        raise ValueError(f"min_quality must be within 1-100, got {min_quality}")
    # 2. Full size first (the original, so PNG keeps compact modes), then ever smaller copies.
    source = _resizable(image)
    encodes = 0
    for size in _scales(image.size):
        scaled = image if size == image.size else source.resize(size, Image.Resampling.LANCZOS)
        found, tries = _fit_at_size(scaled, max_bytes, formats, min_quality)
        encodes += tries
        if found is not None:
            log.debug(
                "encoded %dx%d as %s (quality %s): %d of %d bytes after %d encodes",
                found.width,
                found.height,
                found.format,
                found.quality,
                found.nbytes,
                max_bytes,
                encodes,
            )
            return found
    raise ValueError(
        f"cannot encode the image within {max_bytes} bytes ({max_bytes / 2**20:.2f} MiB) "
        f"as {'/'.join(formats)}, even at quality {min_quality} "
        f"and {_MIN_SIDE} px on the shortest side"
    )


def _fit_at_size(
    image: Image.Image, max_bytes: int, formats: Sequence[str], min_quality: int
) -> tuple[EncodedImage | None, int]:
    """The first format that fits at this size, and how many full-size encodes it took.

    Large images are first measured on a probe (:func:`engine.quality.probe`, 1/16 of a
    2048² grid): a format the probe predicts to miss the limit by far is skipped without a
    full encode, and a lossy quality is chosen on the probe
    (:func:`engine.quality.predicted_quality`).
    """
    encodes = 0
    png_bytes: float | None = None
    probe = find_probe(image)
    scale = image.width * image.height / (probe.width * probe.height) if probe else 1.0
    for format in formats:
        if max(image.size) > _MAX_SIDE.get(format, math.inf):
            continue
        # Converting once per size is shared by every quality probe below.
        prepared = _prepare(image, format)
        small = None if probe is None else _prepare(probe, format)
        lossless = format == "png" or (
            format == "webp"
            and png_bytes is not None
            and png_bytes <= max_bytes * _LOSSLESS_WEBP_REACH
        )
        if lossless:
            predicted = None if small is None else _predict(small, format, None, scale)
            if predicted is not None and predicted > max_bytes * _SURE_MISS:
                if format == "png":
                    png_bytes = predicted
            else:
                encoded = _encode_prepared(prepared, format, None)
                encodes += 1
                if encoded.nbytes <= max_bytes:
                    return encoded, encodes
                if format == "png":
                    png_bytes = encoded.nbytes
        if format != "png":
            encode_at = partial(_encode_prepared, prepared, format)
            if small is None:
                best, tries = highest_quality(encode_at, max_bytes, min_quality)
            else:
                predict = partial(_predict, small, format, scale=scale)
                best, tries = predicted_quality(encode_at, predict, max_bytes, min_quality)
            encodes += tries
            if best is not None:
                return best, encodes
    return None, encodes


def _predict(probe: Image.Image, format: str, quality: int | None, scale: float) -> float:
    """The full image's predicted bytes from the probe's at ``quality``."""
    return _encode_prepared(probe, format, quality).nbytes * scale


def _encode_prepared(image: Image.Image, format: str, quality: int | None) -> EncodedImage:
    """Encode an image already in a mode ``format`` can store."""
    if format == "png":
        data = encode_png(image)
    elif format == "webp" and quality is None:
        # Method 1 at effort 0: most of lossless WebP's gain for a fraction of its default time.
        data = _save(image, "WEBP", lossless=True, quality=0, method=1)
    elif format == "webp":
        data = _save(image, "WEBP", quality=quality, method=_WEBP_METHOD)
    else:
        # Optimised Huffman tables cost ~30 ms per 4 MP and save ~8 %.
        data = _save(image, "JPEG", quality=quality, optimize=True)
    return EncodedImage(data, format, quality, image.width, image.height)


def _prepare(image: Image.Image, format: str) -> Image.Image:
    """Convert ``image`` to a mode ``format`` stores well; JPEG gets alpha flattened on white."""
    if format == "png":
        return image
    alpha = _has_alpha(image)
    if format == "webp":
        wanted = "RGBA" if alpha else "RGB"
        return image if image.mode == wanted else image.convert(wanted)
    if image.mode in ("L", "RGB"):
        return image
    if not alpha:
        return image.convert("RGB")
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _resizable(image: Image.Image) -> Image.Image:
    """A copy LANCZOS can resample: Pillow silently uses NEAREST for bilevel and palette modes."""
    if image.mode == "1":
        return image.convert("L")
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if _has_alpha(image) else "RGB")
    return image


def _scales(size: tuple[int, int]) -> Iterator[tuple[int, int]]:
    """The original size, then 0.75 steps down to (and including) a 64 px shortest side."""
    width, height = size
    yield width, height
    shortest = min(width, height)
    factor = 1.0
    while round(shortest * factor) > _MIN_SIDE:
        factor = max(factor * _DOWNSCALE_STEP, _MIN_SIDE / shortest)
        yield max(1, round(width * factor)), max(1, round(height * factor))


def _grid_mode(images: Sequence[Image.Image]) -> str:
    """The first image's mode if all share it, else the narrowest lossless common mode."""
    first = images[0].mode
    if first not in ("P", "PA") and all(image.mode == first for image in images):
        return first
    colour = alpha = False
    for image in images:
        if image.mode in ("P", "PA"):
            colour, alpha = True, alpha or _has_alpha(image)
        elif image.mode in _MIXABLE_MODES:
            has_colour, has_alpha = _MIXABLE_MODES[image.mode]
            colour, alpha = colour or has_colour, alpha or has_alpha
        else:
            modes = sorted({image.mode for image in images})
            raise ValueError(f"cannot combine image modes {modes} in one grid without loss")
    # Bilevel is never a target: L into 1 would lose grey levels.
    if first != "1" and _MIXABLE_MODES.get(first) == (colour, alpha):
        return first
    return ("RGB" if colour else "L") + ("A" if alpha else "")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or (image.mode == "P" and "transparency" in image.info)


def _check_formats(formats: Sequence[str]) -> None:
    if not formats:
        raise ValueError("at least one format is needed")
    for format in formats:
        if format not in _FORMATS:
            raise ValueError(f"unknown image format {format!r}; known: {', '.join(_FORMATS)}")


def _save(image: Image.Image, format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **params)
    return buffer.getvalue()
