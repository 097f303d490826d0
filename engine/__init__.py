"""Generation engine: :class:`GenerationRequest` → images with diffusers, off the event loop.

Imports nothing from ``parser``, ``db``, ``bot`` or ``discord``. Importing this package is
cheap; torch and diffusers load when a model does.

* :class:`Engine` (``engine.engine``): submit requests from asyncio, await results, cancel;
  a fair scheduler in front of one worker thread per device.
* :func:`render` (``engine.operations``): one request on one loaded model (worker thread).
* ``engine.grid``: 2×2 grids, cells, encoding to a byte limit.
* ``engine.references``: image prompts, style and character references (IP-Adapter).
* ``engine.describe``: image → prompts for ``/describe`` (captioner + CLIP-ranked terms).
* ``engine.transfer``: neural style transfer (``Operation.TRANSFER``, no diffusion model);
  ``describe_backbone`` names its network for the start-up line.
"""

from engine.engine import Engine, EngineConfig, JobHandle
from engine.errors import (
    EngineError,
    GPUOutOfMemoryError,
    InvalidRequestError,
    JobCancelledError,
    ModelLoadError,
    UnknownVersionError,
    UnsupportedFeatureError,
)
from engine.request import (
    GenerationRequest,
    GenerationResult,
    Operation,
    OutpaintSpec,
    PanDirection,
    Progress,
    Reference,
    ReferenceRole,
    Strength,
    WeightedText,
)
from engine.scheduler import SpeedMode

__all__ = [
    "Engine",
    "EngineConfig",
    "EngineError",
    "GPUOutOfMemoryError",
    "GenerationRequest",
    "GenerationResult",
    "InvalidRequestError",
    "JobCancelledError",
    "JobHandle",
    "ModelLoadError",
    "Operation",
    "OutpaintSpec",
    "PanDirection",
    "Progress",
    "Reference",
    "ReferenceRole",
    "SpeedMode",
    "Strength",
    "UnknownVersionError",
    "UnsupportedFeatureError",
    "WeightedText",
]
