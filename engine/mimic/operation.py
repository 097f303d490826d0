"""``Operation.MIMIC``: one request rendered by MimicBrush on the worker thread, and each
device's MimicBrush models (:class:`MimicRegistry`).

:func:`run_mimic` reads as numbered steps: check the request (before any model loads, so a bad
mask is refused at once), choose seeds and steps, edit, report. The request's ``source`` and
``mask`` (white = repaint) are the edit's; :class:`~engine.request.MimicSpec` carries the
reference and keep-shape.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PIL import Image

from engine.errors import InvalidRequestError
from engine.mimic.model import BUILTIN_MIMIC, MimicModel, builtin_mimic_model
from engine.mimic.pipeline import DEFAULT_GUIDANCE, DEFAULT_STEPS, check_mimic, mimic
from engine.request import (
    EffectiveParameters,
    GenerationRequest,
    GenerationResult,
    MimicSpec,
    Operation,
    Progress,
)

__all__ = [
    "BUILTIN_STEPS",
    "MimicRegistry",
    "check_mimic_request",
    "describe_mimic",
    "mimic_steps",
    "run_mimic",
]

BUILTIN_STEPS = 8
"""The built-in random model's steps (more would only take longer to make noise)."""
MAX_REGION_SHARE = 0.98
"""A mask over more than this share of the image leaves nothing to keep: refused."""


def check_mimic_request(request: GenerationRequest) -> tuple[MimicSpec, Image.Image]:
    """The request's spec and binary mask; :class:`InvalidRequestError` naming what is wrong
    (no source, no region, a region over everything, a mask of another size…)."""
    if request.operation is not Operation.MIMIC:
        raise InvalidRequestError(f"{request.operation} is not a reference edit")
    if request.source is None:
        raise InvalidRequestError("a reference edit needs the image to edit")
    if request.mask is None:
        raise InvalidRequestError("a reference edit needs a region (a mask, white = repaint)")
    if request.mimic is None:
        raise InvalidRequestError("a reference edit needs a reference image")
    spec = request.mimic
    steps = mimic_steps(request, BUILTIN_MIMIC)
    guidance = spec.guidance if spec.guidance is not None else DEFAULT_GUIDANCE
    binary = check_mimic(request.source, request.mask, request.resolved_seeds(), steps, guidance)
    histogram = binary.histogram()
    share = histogram[255] / max(1, binary.width * binary.height)
    if share > MAX_REGION_SHARE:
        raise InvalidRequestError(
            f"the region covers {share:.0%} of the image: leave some of it unmasked "
            "(to redraw everything, use /imagine with the reference as an image prompt)"
        )
    if min(spec.reference.size) < 1:
        raise InvalidRequestError("the reference image is empty")
    return spec, binary


def mimic_steps(request: GenerationRequest, source: str) -> int:
    if request.steps is not None:
        return request.steps
    return BUILTIN_STEPS if source == BUILTIN_MIMIC else DEFAULT_STEPS


def run_mimic(
    model: MimicModel,
    request: GenerationRequest,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> GenerationResult:
    """Render ``request`` (``Operation.MIMIC``) with ``model``: one image per seed, each at
    the source's size with every pixel outside the region's feather band the source's."""
    started = time.perf_counter()
    # 1. Check.
    spec, binary = check_mimic_request(request)
    assert request.source is not None  # noqa: S101 - checked above
    # 2. Seeds, steps, guidance.
    seeds = request.resolved_seeds()
    steps = mimic_steps(request, model.source)
    guidance = spec.guidance if spec.guidance is not None else DEFAULT_GUIDANCE
    # 3. Edit.
    images = mimic(
        model,
        request.source,
        binary,
        spec.reference,
        keep_shape=spec.keep_shape,
        seeds=seeds,
        steps=steps,
        guidance=guidance,
        cancel=cancel,
        on_progress=on_progress,
    )
    # 4. Report.
    source = request.source
    parameters = EffectiveParameters.without_diffusion_prompt(
        Operation.MIMIC,
        steps=steps,
        size=source.size,
        sampler="ddim",
        guidance_scale=guidance,
        references={"images": 1, "keep_shape": spec.keep_shape, "model": model.source},
    )
    return GenerationResult(
        tuple(images),
        tuple(seeds),
        source.width,
        source.height,
        steps,
        model.source,
        time.perf_counter() - started,
        parameters,
    )


class MimicRegistry:
    """The MimicBrush model of one device, loaded once, on first use (on the worker thread).
    ``source``: a folder laid out like the authors' release or a Hub repository id holding
    one (``MJ_MIMICBRUSH``; see :mod:`engine.mimic.weights`), ``builtin:mimic`` (tiny,
    random: tests), or ``None``: no MimicBrush — reference edits run the fallback on the
    diffusion model (:mod:`engine.mimic.fallback`)."""

    def __init__(self, source: str | None = None, *, device: str = "cpu", dtype: Any = None):
        self.fallback = source is None
        self.source = source or BUILTIN_MIMIC
        self.device = device
        self.dtype = dtype
        self._loaded: MimicModel | None = None
        self._lock = threading.Lock()

    def add(self, model: MimicModel) -> None:
        """Serve an already built model (tests, benchmarks)."""
        self._loaded = model

    def get(self) -> MimicModel:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def _load(self) -> MimicModel:
        if self.source == BUILTIN_MIMIC:
            return builtin_mimic_model(self.device, self.dtype)
        from engine.mimic.weights import load_mimic_model, release_folder

        model = load_mimic_model(release_folder(self.source), device=self.device, dtype=self.dtype)
        model.source = self.source
        return model


def describe_mimic(source: str | None) -> str:
    """One start-up line saying which mode Vary (Reference) uses (nothing is loaded)."""
    if source is None:
        return (
            "reference edits: fallback on the configured model (reference-only attention and "
            "IP-Adapter Plus; lower fidelity: set MJ_MIMICBRUSH to the authors' MimicBrush "
            "release folder for MimicBrush)"
        )
    if source == BUILTIN_MIMIC:
        return "reference edits: built-in random MimicBrush (for tests: its repaints are noise)"
    return f"reference edits: MimicBrush from {source}"
