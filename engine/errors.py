"""Errors raised by the engine; the root is :class:`EngineError`.

The bot shows ``str(error)`` of these to users (they are written for people), and logs the
rest. Anything else escaping a pipeline call is a bug and is reported as an internal error.
"""

from __future__ import annotations

__all__ = [
    "EngineError",
    "GPUOutOfMemoryError",
    "InvalidRequestError",
    "JobCancelledError",
    "ModelLoadError",
    "UnknownVersionError",
    "UnsupportedFeatureError",
    "WorkerLostError",
]


class EngineError(Exception):
    """Root of the engine's errors."""


class InvalidRequestError(EngineError):
    """A request the engine cannot render as asked (a size out of bounds, a missing image)."""


class UnsupportedFeatureError(EngineError):
    """The configured model cannot do what the request asks."""


class UnknownVersionError(EngineError):
    """A ``--v``/``--niji`` value that no configured model answers to."""


class ModelLoadError(EngineError):
    """A model source could not be loaded (missing folder, bad file, no network)."""


class GPUOutOfMemoryError(EngineError):
    """The device ran out of memory; the job fails, the worker goes on."""


class JobCancelledError(EngineError):
    """The job was cancelled before or while it ran."""


class WorkerLostError(EngineError):
    """A remote GPU worker stopped answering during the job too many times in a row."""
