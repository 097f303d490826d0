"""Protocol v1's errors: :class:`WireError` for what does not follow the protocol, and the
table between engine errors and the ``error`` event's codes (:func:`code_for` on the worker,
:func:`error_for` in the bot)."""

from __future__ import annotations

from enum import StrEnum

from engine.errors import (
    EngineError,
    GPUOutOfMemoryError,
    InvalidRequestError,
    JobCancelledError,
    UnknownVersionError,
    UnsupportedFeatureError,
    WorkerLostError,
)

__all__ = ["ErrorCode", "WireError", "code_for", "error_for"]


class ErrorCode(StrEnum):
    """Why a run ended without a result."""

    OOM = "oom"
    """The GPU ran out of memory: the job fails (a smaller size may work)."""
    BAD_REQUEST = "bad_request"
    """The request is wrong (a field, an image, an unknown model): the job fails."""
    WORKER_LOST = "worker_lost"
    """The worker stopped (replica restarted, shutting down): run it again elsewhere."""
    CANCELLED = "cancelled"
    """Stopped because it was cancelled."""
    FAILED = "failed"
    """The engine refused or failed it (its message says why): the job fails."""


class WireError(EngineError):
    """A request or event that does not follow the protocol; ``code`` says how to treat it."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> None:
        super().__init__(message)
        self.code = code


_ERRORS: dict[ErrorCode, type[EngineError]] = {
    ErrorCode.OOM: GPUOutOfMemoryError,
    ErrorCode.BAD_REQUEST: InvalidRequestError,
    ErrorCode.WORKER_LOST: WorkerLostError,
    ErrorCode.CANCELLED: JobCancelledError,
}


def code_for(error: EngineError) -> ErrorCode:
    """The code a worker sends for an engine error. A job cancelled on the worker's side
    (it is shutting down) is a lost worker: the bot runs it again elsewhere."""
    if isinstance(error, GPUOutOfMemoryError):
        return ErrorCode.OOM
    if isinstance(error, InvalidRequestError | UnknownVersionError | UnsupportedFeatureError):
        return ErrorCode.BAD_REQUEST
    if isinstance(error, JobCancelledError):
        return ErrorCode.WORKER_LOST
    return ErrorCode.FAILED


def error_for(code: object, message: str) -> EngineError:
    """The engine error an ``error`` event's code stands for (``worker_lost``:
    :class:`~engine.errors.WorkerLostError`)."""
    try:
        kind = _ERRORS.get(ErrorCode(str(code)))
    except ValueError:  # a code this bot does not know (a newer worker)
        kind = None
    if kind is None:
        return EngineError(message or f"the GPU worker failed ({code})")
    return kind(message)
