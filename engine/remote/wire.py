"""Protocol version 1 between the bot and its GPU workers: requests, events and results.

``POST /v1/run`` carries ``{"protocol": 1, "job": …, "dispatch": …, "request": …,
"images": {sha256: base64 PNG}}``: the :class:`~engine.request.GenerationRequest` as JSON in
which every image is ``{"$image": sha256}``, so inputs travel inline, each once, and the
worker checks every hash (GPU nodes never reach the bot). The answer is NDJSON, one event per
line (:class:`Event`): ``accepted``, ``waiting`` (a heartbeat while queued or loading),
``progress`` (~1/s), ``preview`` (a small JPEG, ~every 3 s), then exactly one of ``result``
or ``error`` (typed: :class:`ErrorCode`). Both carry the dispatch id they answer.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import io
import json
import types
import typing
from collections.abc import Mapping
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, Union

from PIL import Image

from engine.errors import (
    EngineError,
    GPUOutOfMemoryError,
    InvalidRequestError,
    JobCancelledError,
    UnknownVersionError,
    UnsupportedFeatureError,
    WorkerLostError,
)
from engine.loras import LoraUse
from engine.request import EffectiveParameters, GenerationRequest, GenerationResult, Progress

__all__ = [
    "PROTOCOL",
    "ErrorCode",
    "WireError",
    "code_for",
    "decode_progress",
    "decode_request",
    "decode_result",
    "encode_progress",
    "encode_request",
    "encode_result",
    "error_for",
    "event_line",
    "parse_event",
]

PROTOCOL = 1
MAX_PIXELS = 64_000_000
"""A decoded input larger than this is refused (a decompression bomb, not a picture)."""


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


# -- images ------------------------------------------------------------------------------


def image_bytes(image: Image.Image) -> bytes:
    """Lossless PNG (masks and sources must arrive pixel-exact)."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _put_image(image: Image.Image, images: dict[str, str]) -> dict[str, str]:
    data = image_bytes(image)
    digest = hashlib.sha256(data).hexdigest()
    images.setdefault(digest, base64.b64encode(data).decode("ascii"))
    return {"$image": digest}


def _get_image(value: Any, images: Mapping[str, str], where: str) -> Image.Image:
    if not isinstance(value, dict) or not isinstance(value.get("$image"), str):
        raise WireError(f"{where}: expected an image reference {{'$image': sha256}}")
    digest = value["$image"]
    encoded = images.get(digest)
    if encoded is None:
        raise WireError(f"{where}: image {digest[:12]}… is not in the request's images")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise WireError(f"{where}: image {digest[:12]}… is not valid base64") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise WireError(f"{where}: image {digest[:12]}… does not match its sha256")
    return _open_image(data, where)


def _open_image(data: bytes, where: str) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise WireError(f"{where}: {opened.width}×{opened.height} is too many pixels")
            opened.load()
            return opened.copy()
    except WireError:
        raise
    except Exception as error:  # Pillow raises many kinds for a broken file
        raise WireError(f"{where}: not a readable image ({type(error).__name__})") from None


# -- values --------------------------------------------------------------------------------


def _encode(value: Any, images: dict[str, str], where: str) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return str(value) if isinstance(value, Enum) else value
    if isinstance(value, Image.Image):
        return _put_image(value, images)
    if isinstance(value, Path):
        raise WireError(f"{where}: a path on this machine cannot travel to a GPU worker")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _encode(getattr(value, f.name), images, f"{where}.{f.name}")
            for f in dataclasses.fields(value)
        }
    if isinstance(value, tuple | list):
        return [_encode(item, images, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        return {str(k): _encode(v, images, f"{where}.{k}") for k, v in value.items()}
    raise WireError(f"{where}: cannot send a {type(value).__name__}")


_NAMESPACE = {"Image": Image, "LoraUse": LoraUse, "Path": Path}


def _decode(hint: Any, value: Any, images: Mapping[str, str], where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) != 1:
            raise WireError(f"{where}: ambiguous type {hint}")
        return _decode(options[0], value, images, where)
    if value is None:
        raise WireError(f"{where}: missing")
    if origin is tuple:
        if not isinstance(value, list):
            raise WireError(f"{where}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, images, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise WireError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(
            _decode(a, v, images, f"{where}[{i}]")
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin in (Mapping, dict, typing.Mapping):
        if not isinstance(value, dict):
            raise WireError(f"{where}: expected an object")
        return {
            k: _decode(args[1] if args else Any, v, images, f"{where}.{k}")
            for k, v in value.items()
        }
    if hint is Image.Image:
        return _get_image(value, images, where)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            raise WireError(
                f"{where}: {value!r} is not one of {[str(m.value) for m in hint]}"
            ) from None
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _decode_dataclass(hint, value, images, where)
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and type(value) is hint:
        return value
    raise WireError(
        f"{where}: expected {getattr(hint, '__name__', hint)}, got {type(value).__name__}"
    )


def _decode_dataclass(cls: type[Any], value: Any, images: Mapping[str, str], where: str) -> Any:
    if not isinstance(value, dict):
        raise WireError(f"{where}: expected an object")
    hints = typing.get_type_hints(cls, localns=_NAMESPACE)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise WireError(f"{where}: unknown field {unknown[0]!r}")
    kwargs = {
        name: _decode(hints[name], field_value, images, f"{where}.{name}")
        for name, field_value in value.items()
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise WireError(f"{where}: {error}") from None


# -- messages ------------------------------------------------------------------------------


def encode_request(request: GenerationRequest, job: str, dispatch: str) -> dict[str, Any]:
    """The body of ``POST /v1/run``."""
    images: dict[str, str] = {}
    encoded = _encode(request, images, "request")
    return {
        "protocol": PROTOCOL,
        "job": job,
        "dispatch": dispatch,
        "request": encoded,
        "images": images,
    }


def decode_request(body: Any) -> tuple[GenerationRequest, str, str]:
    """``(request, job id, dispatch id)`` from a run's body; :class:`WireError` names the
    field that is wrong."""
    if not isinstance(body, dict):
        raise WireError("the body must be a JSON object")
    if body.get("protocol") != PROTOCOL:
        raise WireError(
            f"protocol {body.get('protocol')!r} is not supported; this worker speaks {PROTOCOL}"
        )
    job, dispatch, images = body.get("job"), body.get("dispatch"), body.get("images", {})
    if not isinstance(job, str) or not isinstance(dispatch, str):
        raise WireError("job and dispatch must be strings")
    if not isinstance(images, dict) or not all(isinstance(v, str) for v in images.values()):
        raise WireError("images must map sha256 to base64 PNG")
    request = _decode_dataclass(GenerationRequest, body.get("request"), images, "request")
    return request, job, dispatch


def encode_result(result: GenerationResult) -> dict[str, Any]:
    images: dict[str, str] = {}
    cells = [_put_image(image, images) for image in result.images]
    return {
        "cells": cells,
        "images": images,
        "seeds": list(result.seeds),
        "steps_run": result.steps_run,
        "model": result.model,
        "seconds": result.seconds,
        "parameters": _encode(result.parameters, {}, "parameters"),
    }


def decode_result(data: Any) -> GenerationResult:
    if not isinstance(data, dict):
        raise WireError("result: expected an object")
    images = data.get("images", {})
    cells = data.get("cells")
    if not isinstance(cells, list) or not cells or not isinstance(images, dict):
        raise WireError("result: no cells")
    pictures = tuple(_get_image(cell, images, f"result.cells[{i}]") for i, cell in enumerate(cells))
    seeds = _decode(tuple[int, ...], data.get("seeds"), {}, "result.seeds")
    if len(seeds) != len(pictures):
        raise WireError(f"result: {len(pictures)} cells but {len(seeds)} seeds")
    parameters = _decode_dataclass(
        EffectiveParameters, data.get("parameters"), {}, "result.parameters"
    )
    return GenerationResult(
        pictures,
        seeds,
        pictures[0].width,
        pictures[0].height,
        _decode(int, data.get("steps_run"), {}, "result.steps_run"),
        _decode(str, data.get("model"), {}, "result.model"),
        _decode(float, data.get("seconds"), {}, "result.seconds"),
        parameters,
    )


def encode_progress(progress: Progress, *, with_preview: bool) -> dict[str, Any]:
    event: dict[str, Any] = {"event": "progress", "step": progress.step, "total": progress.total}
    if with_preview and progress.preview is not None:
        buffer = io.BytesIO()
        progress.preview.convert("RGB").save(buffer, "JPEG", quality=80)
        event["event"] = "preview"
        event["jpeg"] = base64.b64encode(buffer.getvalue()).decode("ascii")
    return event


def decode_progress(event: Mapping[str, Any]) -> Progress:
    step, total = event.get("step"), event.get("total")
    if not isinstance(step, int) or not isinstance(total, int):
        raise WireError("progress: step and total must be integers")
    preview = None
    if isinstance(event.get("jpeg"), str):
        try:
            preview = _open_image(base64.b64decode(event["jpeg"], validate=True), "preview")
        except (binascii.Error, ValueError):
            raise WireError("preview: not valid base64") from None
    return Progress(step, total, preview)


def event_line(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def parse_event(line: bytes) -> dict[str, Any]:
    try:
        event = json.loads(line)
    except ValueError:
        raise WireError(f"not a JSON event: {line[:80]!r}", ErrorCode.WORKER_LOST) from None
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise WireError(f"not an event: {line[:80]!r}", ErrorCode.WORKER_LOST)
    return event
