"""The subject of a picture, for Change Background: segmenters, and pasting the subject back.

Change Background repaints everything but the subject, then :func:`paste_subject` puts the
subject's own pixels back over the result, so the subject comes out exactly as it went in
(the generator's copy of it is never shown) with a soft seam just inside its outline.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

import numpy as np
from PIL import Image

from engine.errors import InvalidRequestError
from engine.structure.sources import BUILTIN_TINY, ImagePreprocessing, ModelSource, seeded

__all__ = [
    "GRABCUT",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "GrabCutSegmenter",
    "Segmenter",
    "TransformersSegmenter",
    "load_segmenter",
    "paste_subject",
    "seam_band",
    "subject_mask",
]

log = logging.getLogger(__name__)

GRABCUT = "grabcut"
NO_SEGMENTER = frozenset({"", "none"})
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_SIDE = 1024
"""The side pictures are resized to when neither the setting nor the model says (BiRefNet)."""
MIN_SIDE = 16
"""GrabCut needs a border strip and an inside; below this there is neither."""
HOLE_SHARE = 0.02
"""Holes in the subject smaller than this share of it are filled (specks of background
colour inside the subject); bigger ones (a mug's handle) are real and kept."""
TINY_SEGMENTER_SEED = 7
TINY_SEGMENTER_SIDE = 64


class Segmenter(Protocol):
    """Finds the subject of a picture."""

    def subject(self, image: Image.Image) -> Image.Image:
        """An "L" mask of ``image``'s size: 255 on the subject, 0 elsewhere."""
        ...


def _as_mask(subject: Any) -> Image.Image:
    return Image.fromarray(np.where(subject, 255, 0).astype(np.uint8), mode="L")


class GrabCutSegmenter:
    """The subject by OpenCV's GrabCut, without weights.

    It assumes a product shot or a portrait: the subject lies inside the frame and a border
    strip (``inset`` of each side) is background. GrabCut learns colour models of the strip
    and of the inside, then cuts along colour edges (``iterations`` rounds). One more round
    then decides the strip itself, the inside held as cut, so that a subject the frame cuts
    off (shoulders at the bottom of a portrait) reaches the edge. Of what it keeps,
    only the largest connected part is the subject, with its small holes filled
    (:data:`HOLE_SHARE`). It runs on a copy at most ``max_side`` pixels long — GrabCut's
    colour models do not need more, and its time grows with the pixel count — and the mask is
    scaled back up smoothly and thresholded, so its outline has no staircase.

    The OpenCV random generator is reseeded before each cut: the same picture gives the same
    mask every time.
    """

    def __init__(self, *, inset: float = 0.04, iterations: int = 5, max_side: int = 512) -> None:
        self.inset = inset
        self.iterations = iterations
        self.max_side = max_side

    def subject(self, image: Image.Image) -> Image.Image:
        import cv2

        width, height = image.size
        if min(width, height) < MIN_SIDE:
            raise InvalidRequestError(
                f"the image is {width}×{height}; finding its subject needs at least "
                f"{MIN_SIDE} px a side"
            )
        # 1. a copy at most max_side long
        scale = min(1.0, self.max_side / max(width, height))
        small_size = (max(MIN_SIDE, round(width * scale)), max(MIN_SIDE, round(height * scale)))
        pixels = np.asarray(image.convert("RGB").resize(small_size, Image.Resampling.BOX))
        # 2. GrabCut from the inset rectangle
        dx = max(1, round(self.inset * small_size[0]))
        dy = max(1, round(self.inset * small_size[1]))
        rect = (dx, dy, small_size[0] - 2 * dx, small_size[1] - 2 * dy)
        labels = np.zeros(pixels.shape[:2], np.uint8)
        background_model = np.zeros((1, 65), np.float64)
        foreground_model = np.zeros((1, 65), np.float64)
        cv2.setRNGSeed(0)
        cv2.grabCut(
            np.ascontiguousarray(pixels),
            labels,
            rect,
            background_model,
            foreground_model,
            self.iterations,
            cv2.GC_INIT_WITH_RECT,
        )
        # 3. the strip was background by fiat, but a subject cut by the frame (a portrait's
        # shoulders) goes on into it: one more round decides the strip alone, the inside
        # held as it was cut
        found = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        if not found.any():  # nothing stands out from the strip: no subject
            return _as_mask(np.zeros((height, width), dtype=bool))
        labels[:] = np.where(found, cv2.GC_FGD, cv2.GC_BGD)
        strip = np.ones(labels.shape, bool)
        strip[dy : dy + rect[3], dx : dx + rect[2]] = False
        labels[strip] = cv2.GC_PR_BGD
        cv2.grabCut(
            np.ascontiguousarray(pixels),
            labels,
            rect,  # unused when starting from the labels
            background_model,
            foreground_model,
            1,
            cv2.GC_INIT_WITH_MASK,
        )
        found = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        # 4. the largest part, holes filled, back at full size
        subject = _fill_small_holes(_largest_part(found))
        scaled = cv2.resize(
            subject.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR
        )
        return _as_mask(scaled >= 0.5)


def _largest_part(found: Any) -> Any:
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        found.astype(np.uint8), connectivity=8
    )
    if count <= 1:
        return np.zeros_like(found, dtype=bool)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == largest


def _fill_small_holes(subject: Any) -> Any:
    # Background parts that do not touch the frame are holes; fill the small ones.
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (~subject).astype(np.uint8), connectivity=4
    )
    height, width = subject.shape
    left, top = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    right = left + stats[:, cv2.CC_STAT_WIDTH]
    bottom = top + stats[:, cv2.CC_STAT_HEIGHT]
    inside = (left > 0) & (top > 0) & (right < width) & (bottom < height)
    small = stats[:, cv2.CC_STAT_AREA] < HOLE_SHARE * max(1, int(subject.sum()))
    fill = inside & small
    fill[0] = False  # label 0 is the subject itself here
    return subject | fill[labels] if count > 1 else subject


class TransformersSegmenter:
    """A salient-object model loaded with transformers' ``AutoModelForImageSegmentation``
    (``trust_remote_code=True``: BiRefNet, RMBG-1.4 and RMBG-2.0 are published as remote code,
    so ``source`` runs that code — name only models you trust).

    ``source`` is a Hub id (from the local cache alone when ``HF_HUB_OFFLINE`` is set), a
    folder, or ``builtin:tiny`` (see :func:`_tiny_segmenter`). The picture is resized to
    ``size``² and normalised with ``mean``/``std``: those given here, else what the model's
    ``preprocessor_config.json`` says (RMBG-1.4: mean 0.5, std 1.0), else 1024² and
    ImageNet's, as BiRefNet and RMBG-2.0 expect. Which output is the mask is
    explained at :func:`_mask_output`. The mask is scaled to the picture and thresholded at
    ``threshold``. Loaded on first use, once, under a lock (the worker thread calls it).
    """

    def __init__(
        self,
        source: str,
        *,
        size: int | None = None,
        mean: tuple[float, float, float] | None = None,
        std: tuple[float, float, float] | None = None,
        threshold: float = 0.5,
        device: str = "cpu",
        dtype: Any = None,
    ) -> None:
        self.source = ModelSource(source, "subject segmentation")
        self.given = ImagePreprocessing(None if size is None else (size, size), mean, std)
        self.preprocessing = self.given
        """As used: what was given, then the model's own, then the defaults (once loaded)."""
        self._input = ((DEFAULT_SIDE, DEFAULT_SIDE), IMAGENET_MEAN, IMAGENET_STD)
        self.threshold = threshold
        self.device = device
        self.dtype = dtype
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now (else the first :meth:`subject` does); :class:`ModelLoadError`
        names the source and the fix if it cannot be."""
        with self._lock:
            if self._model is not None:
                return
            own = ImagePreprocessing()
            if self.source.builtin:
                model = _tiny_segmenter()
            else:
                where, local = self.source.locate()
                model = self._from_pretrained(where, local)
                own = self.source.preprocessing(where, local)
            given = self.given
            self._input = (
                given.size or own.size or (DEFAULT_SIDE, DEFAULT_SIDE),
                given.mean or own.mean or IMAGENET_MEAN,
                given.std or own.std or IMAGENET_STD,
            )
            self.preprocessing = ImagePreprocessing(*self._input)
            dtype = self.dtype if self.dtype is not None else next(model.parameters()).dtype
            self._model = model.to(device=self.device, dtype=dtype).eval()
            log.info("segmentation model %s on %s as %s", self.source.value, self.device, dtype)

    def _from_pretrained(self, where: str, local: bool) -> Any:
        from transformers import AutoModelForImageSegmentation

        try:
            return AutoModelForImageSegmentation.from_pretrained(
                where, trust_remote_code=True, local_files_only=local
            )
        except (OSError, ValueError, KeyError, ImportError) as error:
            # ImportError: the remote code needs packages that are not installed (BiRefNet:
            # timm, kornia, einops); transformers says which
            raise self.source.missing(error, local) from error

    def subject(self, image: Image.Image) -> Image.Image:
        import torch
        import torch.nn.functional as F

        self.load()
        size, mean, std = self._input
        rgb = image.convert("RGB").resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(rgb, dtype=np.float32) - np.asarray(mean, np.float32) * 255.0
        pixels /= np.asarray(std, np.float32) * 255.0
        batch = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0)
        batch = batch.to(device=self.device, dtype=next(self._model.parameters()).dtype)
        with torch.inference_mode():
            scores = _mask_output(self._model(batch)).float()
        if scores.min() < 0.0 or scores.max() > 1.0:
            scores = scores.sigmoid()
        while scores.dim() < 4:
            scores = scores.unsqueeze(0)
        full = F.interpolate(
            scores[:, :1], size=(image.height, image.width), mode="bilinear", align_corners=False
        )
        return _as_mask(full[0, 0].cpu().numpy() > self.threshold)


def _mask_output(output: Any) -> Any:
    """The mask map in a segmentation model's output.

    * a tensor: that (``builtin:tiny``, most exported models);
    * a transformers output with ``logits``: those;
    * a list or tuple whose first item is itself a list: RMBG-1.4 (and U²-Net/ISNet), which
      return ``(side maps, features)`` with the side maps finest first — the first map;
    * any other list or tuple: BiRefNet and RMBG-2.0, whose deep-supervision maps run coarse
      to fine and end with the final prediction — the last.

    Some of these give logits and some (RMBG-1.4) probabilities: the caller applies a sigmoid
    only when the values leave [0, 1], which logits of a trained model always do.
    """
    logits = getattr(output, "logits", None)
    if logits is not None:
        return logits
    if isinstance(output, list | tuple):
        if not output:
            raise ValueError("the segmentation model returned no output")
        if isinstance(output[0], list | tuple):
            return _mask_output(output[0][0])
        return _mask_output(output[-1])
    return output


def _tiny_segmenter() -> Any:
    """``builtin:tiny``: two random 3×3 convolutions, the same on every call. Its masks are
    arbitrary blobs; it exists so that tests run the whole path (load, preprocessing, the
    output, thresholding) without weights. Never a setting for real use."""
    from torch import nn

    with seeded(TINY_SEGMENTER_SEED):
        return nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 1, kernel_size=3, padding=1),
        )


def load_segmenter(setting: str | None, *, device: str = "cpu") -> Segmenter | None:
    """The segmenter a setting names: none (``None``, ``""``, ``"none"``: the user draws the
    mask), ``"grabcut"``, ``"builtin:tiny"``, or else a model's Hub id or folder. Nothing is
    loaded yet."""
    value = (setting or "").strip()
    if value.lower() in NO_SEGMENTER:
        return None
    if value.lower() == GRABCUT:
        return GrabCutSegmenter()
    if value == BUILTIN_TINY:
        return TransformersSegmenter(BUILTIN_TINY, size=TINY_SEGMENTER_SIDE, device=device)
    return TransformersSegmenter(value, device=device)


def subject_mask(image: Image.Image, segmenter: Segmenter) -> Image.Image:
    """The subject of ``image`` as a 0/255 "L" mask of its size (anything a segmenter gives
    between 0 and 255 is split at 128). An empty mask is returned as it is: the caller
    decides what no subject means."""
    mask = segmenter.subject(image.convert("RGB"))
    if mask.size != image.size:
        raise ValueError(f"the segmenter gave a {mask.size} mask for a {image.size} image")
    return _as_mask(np.asarray(mask.convert("L")) >= 128)


def _disc(radius: int) -> Any:
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.float32)


def _window_count(inside: Any, disc: Any) -> Any:
    # How many pixels of each pixel's disc are set. filter2D may use an FFT for big discs,
    # so the sums are rounded back to the whole numbers they are.
    import cv2

    sums = cv2.filter2D(inside.astype(np.float32), -1, disc, borderType=cv2.BORDER_REPLICATE)
    return np.rint(sums).astype(np.int64)


def _check_seam(seam_px: int) -> None:
    if seam_px < 0:
        raise InvalidRequestError(f"seam_px must be 0 or more, not {seam_px}")


def paste_subject(
    source: Image.Image, generated: Image.Image, subject: Image.Image, seam_px: int
) -> Image.Image:
    """``generated`` with the subject's pixels of ``source`` pasted back, RGB.

    The alpha is the subject eroded by a disc of radius ``seam_px``, then averaged over the
    same disc: it rises from 0 at the subject's outline to 1 at ``2 * seam_px`` inside it.
    So every pixel more than ``2 * seam_px`` inside the outline is exactly the source's
    (its whole double disc is subject), and every pixel outside the subject is exactly the
    generated one (no eroded pixel reaches it) — within :func:`seam_band` on both counts.
    The exact pixels are copied, not blended, so no rounding creeps in.
    """
    _check_seam(seam_px)
    for name, other in (("generated", generated), ("subject", subject)):
        if other.size != source.size:
            raise InvalidRequestError(
                f"{name} is {other.width}×{other.height} but the source is "
                f"{source.width}×{source.height}"
            )
    import cv2

    inside = np.asarray(subject.convert("L")) >= 128
    disc = _disc(seam_px)
    whole = int(disc.sum())
    kernel = disc.astype(np.uint8)
    eroded = cv2.erode(inside.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE)
    count = _window_count(eroded, disc)
    ours = np.asarray(source.convert("RGB"))
    theirs = np.asarray(generated.convert("RGB"))
    alpha = (count.astype(np.float32) / whole)[..., None]
    blend = np.rint(ours * alpha + theirs * (1.0 - alpha)).astype(np.uint8)
    out = np.where(
        (count == whole)[..., None], ours, np.where((count == 0)[..., None], theirs, blend)
    )
    return Image.fromarray(out.astype(np.uint8), mode="RGB")


def seam_band(subject: Image.Image, seam_px: int) -> Any:
    """Where :func:`paste_subject` promises neither pixel: a boolean (height, width) array,
    true within ``2 * seam_px`` (Euclidean, pixel centre to pixel centre) of the subject's
    outline on either side. Empty for ``seam_px`` 0 (a hard cut)."""
    import cv2

    _check_seam(seam_px)
    inside = np.asarray(subject.convert("L")) >= 128
    reach = 2 * seam_px
    if inside.all() or not inside.any():
        return np.zeros(inside.shape, dtype=bool)  # no outline, no seam
    precise = (cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    to_outside = cv2.distanceTransform(inside.astype(np.uint8), *precise)
    to_inside = cv2.distanceTransform((~inside).astype(np.uint8), *precise)
    return (inside & (to_outside <= reach)) | (~inside & (to_inside <= reach))
