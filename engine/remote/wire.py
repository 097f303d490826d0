"""Protocol version 1 between the bot and its GPU workers: requests, events and results.

``POST /v1/run`` carries ``{"protocol": 1, "job": …, "dispatch": …, "request": …,
"images": {sha256: base64 PNG}, "portraits": {…}}``: the
:class:`~engine.request.GenerationRequest` as JSON in which every image is
``{"$image": sha256}`` and every path a portrait folder ``{"$portraits": "owner/name"}``, so
inputs travel inline, each once, and the worker checks every hash (GPU nodes never reach the
bot); the files of the portraits a request uses travel with it and a training's come back with
its result (:mod:`engine.remote.blobs`). The answer is NDJSON, one event per
line (:class:`Event`): ``accepted``, ``waiting`` (a heartbeat while queued or loading),
``progress`` (~1/s), ``preview`` (a small JPEG, ~every 3 s), then exactly one of ``result``
or ``error`` (typed: :class:`ErrorCode`). Both carry the dispatch id they answer.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import json
import types
import typing
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Union

from PIL import Image

from engine.loras import LoraUse
from engine.remote.blobs import (
    Portraits,
    get_image,
    open_image,
    pack_portraits,
    portrait_path,
    portrait_ref,
    portraits_used,
    put_image,
    read_portraits,
    unpack_portraits,
)
from engine.remote.errors import ErrorCode, WireError, code_for, error_for
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
    "ndjson_lines",
    "parse_event",
]

PROTOCOL = 1


@dataclass(frozen=True, slots=True)
class _Blobs:
    """Where a message's inline parts go: its images, and the portraits root its paths are
    relative to (``None``: no path may travel)."""

    images: dict[str, str] = field(default_factory=dict)
    root: Path | None = None


# -- values --------------------------------------------------------------------------------


def _encode(value: Any, blobs: _Blobs, where: str) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return str(value) if isinstance(value, Enum) else value
    if isinstance(value, Image.Image):
        return put_image(value, blobs.images)
    if isinstance(value, Path):  # a portrait's folder: relative to the portraits root
        return {"$portraits": portrait_ref(value, blobs.root, where)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _encode(getattr(value, f.name), blobs, f"{where}.{f.name}")
            for f in dataclasses.fields(value)
        }
    if isinstance(value, tuple | list):
        return [_encode(item, blobs, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        return {str(k): _encode(v, blobs, f"{where}.{k}") for k, v in value.items()}
    raise WireError(f"{where}: cannot send a {type(value).__name__}")


_NAMESPACE = {"Image": Image, "LoraUse": LoraUse, "Path": Path}


def _decode(hint: Any, value: Any, blobs: _Blobs, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) != 1:
            raise WireError(f"{where}: ambiguous type {hint}")
        return _decode(options[0], value, blobs, where)
    if value is None:
        raise WireError(f"{where}: missing")
    if origin is tuple:
        if not isinstance(value, list):
            raise WireError(f"{where}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, blobs, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise WireError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(
            _decode(a, v, blobs, f"{where}[{i}]")
            for i, (a, v) in enumerate(zip(args, value, strict=True))
        )
    if origin in (Mapping, dict, typing.Mapping):
        if not isinstance(value, dict):
            raise WireError(f"{where}: expected an object")
        return {
            k: _decode(args[1] if args else Any, v, blobs, f"{where}.{k}") for k, v in value.items()
        }
    if hint is Image.Image:
        return get_image(value, blobs.images, where)
    if hint is Path:
        ref = value.get("$portraits") if isinstance(value, dict) else None
        return portrait_path(ref, blobs.root, where)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            raise WireError(
                f"{where}: {value!r} is not one of {[str(m.value) for m in hint]}"
            ) from None
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _decode_dataclass(hint, value, blobs, where)
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and type(value) is hint:
        return value
    raise WireError(
        f"{where}: expected {getattr(hint, '__name__', hint)}, got {type(value).__name__}"
    )


def _decode_dataclass(cls: type[Any], value: Any, blobs: _Blobs, where: str) -> Any:
    if not isinstance(value, dict):
        raise WireError(f"{where}: expected an object")
    hints = typing.get_type_hints(cls, localns=_NAMESPACE)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise WireError(f"{where}: unknown field {unknown[0]!r}")
    kwargs = {
        name: _decode(hints[name], field_value, blobs, f"{where}.{name}")
        for name, field_value in value.items()
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise WireError(f"{where}: {error}") from None


# -- messages ------------------------------------------------------------------------------


def encode_request(
    request: GenerationRequest, job: str, dispatch: str, *, portraits: Path | None = None
) -> dict[str, Any]:
    """The body of ``POST /v1/run`` (reads the files of the portraits it uses under the
    portraits root ``portraits``: call off the event loop)."""
    blobs = _Blobs(root=portraits)
    body = {
        "protocol": PROTOCOL,
        "job": job,
        "dispatch": dispatch,
        "request": _encode(request, blobs, "request"),
        "images": blobs.images,
    }
    used = portraits_used(request, portraits)
    if used:
        body["portraits"] = pack_portraits(read_portraits(portraits, used))
    return body


def decode_request(
    body: Any, *, portraits: Path | None = None
) -> tuple[GenerationRequest, str, str, Portraits]:
    """``(request, job id, dispatch id, portrait files)`` from a run's body, its paths under
    this side's portraits root; :class:`WireError` names the field that is wrong."""
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
    blobs = _Blobs(images, portraits)
    request = _decode_dataclass(GenerationRequest, body.get("request"), blobs, "request")
    files = unpack_portraits(body.get("portraits"), "portraits")
    return request, job, dispatch, files


def encode_result(result: GenerationResult, portraits: Portraits | None = None) -> dict[str, Any]:
    """A ``result`` event's payload; ``portraits``: folders the run wrote (a training's)."""
    images: dict[str, str] = {}
    cells = [put_image(image, images) for image in result.images]
    data = {
        "cells": cells,
        "images": images,
        "seeds": list(result.seeds),
        "steps_run": result.steps_run,
        "model": result.model,
        "seconds": result.seconds,
        "parameters": _encode(result.parameters, _Blobs(), "parameters"),
    }
    if portraits:
        data["portraits"] = pack_portraits(portraits)
    return data


def decode_result(data: Any) -> tuple[GenerationResult, Portraits]:
    """A ``result`` payload: the result and the portrait folders to write with it."""
    if not isinstance(data, dict):
        raise WireError("result: expected an object")
    images = data.get("images", {})
    cells = data.get("cells")
    if not isinstance(cells, list) or not cells or not isinstance(images, dict):
        raise WireError("result: no cells")
    pictures = tuple(get_image(cell, images, f"result.cells[{i}]") for i, cell in enumerate(cells))
    none = _Blobs()
    seeds = _decode(tuple[int, ...], data.get("seeds"), none, "result.seeds")
    if len(seeds) != len(pictures):
        raise WireError(f"result: {len(pictures)} cells but {len(seeds)} seeds")
    parameters = _decode_dataclass(
        EffectiveParameters, data.get("parameters"), none, "result.parameters"
    )
    result = GenerationResult(
        pictures,
        seeds,
        pictures[0].width,
        pictures[0].height,
        _decode(int, data.get("steps_run"), none, "result.steps_run"),
        _decode(str, data.get("model"), none, "result.model"),
        _decode(float, data.get("seconds"), none, "result.seconds"),
        parameters,
    )
    return result, unpack_portraits(data.get("portraits"), "result.portraits")


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
            preview = open_image(base64.b64decode(event["jpeg"], validate=True), "preview")
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


async def ndjson_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The non-empty lines of an NDJSON stream read in ``chunks``, of any length (a result
    with four cells is megabytes on one line)."""
    pending = bytearray()
    async for chunk in chunks:
        pending += chunk
        while (end := pending.find(b"\n")) >= 0:
            line = bytes(pending[:end])
            del pending[: end + 1]
            if line.strip():
                yield line
    if pending.strip():
        yield bytes(pending)
