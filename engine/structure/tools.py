"""What Retexture and Change Background need besides the diffusion model, per device: the
ControlNets (``MJ_CONTROLNETS``), the depth estimator (``MJ_DEPTH_MODEL``) and the subject
finder (``MJ_SEGMENTER``) — each loaded on first use, on the worker thread."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from engine.controlnets import ControlNetRegistry
from engine.structure.maps import DEFAULT_DEPTH_MODEL

__all__ = ["DEFAULT_DEPTH_MODEL", "DEFAULT_SEGMENTER", "StructureTools"]

DEFAULT_SEGMENTER = "grabcut"
"""OpenCV's GrabCut around the centre: no weights; a salient-object model does better."""


class StructureTools:
    def __init__(
        self,
        controlnets: Mapping[str, str] | None = None,
        *,
        depth_model: str | None = DEFAULT_DEPTH_MODEL,
        segmenter: str | None = DEFAULT_SEGMENTER,
        device: str = "cpu",
        dtype: Any = None,
    ) -> None:
        self.controlnets = ControlNetRegistry(controlnets, device=device, dtype=dtype)
        self.depth_model = depth_model
        self.segmenter_source = segmenter
        self.device = device
        self.dtype = dtype
        self._depth: Any | None = None
        self._segmenter: Any | None = None
        self._lock = threading.Lock()

    def depth(self) -> Any | None:
        """The depth estimator (loaded when it first estimates); ``None``: not configured."""
        if not self.depth_model:
            return None
        with self._lock:
            if self._depth is None:
                from engine.structure.maps import DepthEstimator

                self._depth = DepthEstimator(self.depth_model, device=self.device)
            return self._depth

    def segmenter(self) -> Any | None:
        """The subject finder; ``None``: not configured (the user marks the subject)."""
        if not self.segmenter_source or self.segmenter_source == "none":
            return None
        with self._lock:
            if self._segmenter is None:
                from engine.structure.segment import load_segmenter

                self._segmenter = load_segmenter(self.segmenter_source)
            return self._segmenter
