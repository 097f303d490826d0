"""What travels inline in protocol v1 besides JSON: images (lossless PNG, by sha256) and
portraits' folders (a person's face LoRA, best photo and metadata).

A portrait lives in ``<portraits>/<owner>/<name>/`` on the bot (``EngineConfig.portrait_dir``).
A request names its folders relative to that root (``{"$portraits": "7/me"}``, or ``"7"`` for
a training's owner folder), so each side reads and writes under its own root; the files of
every portrait a request uses (its face LoRA, a portraits job's folder) travel with it, and a
training's result brings the new folder back. Each file is checked against its sha256 and
written atomically; a name outside the portrait layout is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from engine.loras import portrait_parts
from engine.portrait.library import BEST, LORA, META, NAME
from engine.remote.errors import WireError
from engine.request import GenerationRequest, Operation

__all__ = [
    "MAX_PIXELS",
    "PORTRAIT_FILES",
    "Portraits",
    "get_image",
    "image_bytes",
    "open_image",
    "pack_portraits",
    "portrait_path",
    "portrait_ref",
    "portraits_used",
    "put_image",
    "read_portraits",
    "training_ref",
    "unpack_portraits",
    "write_portraits",
]

MAX_PIXELS = 64_000_000
"""A decoded input larger than this is refused (a decompression bomb, not a picture)."""
PORTRAIT_FILES = (LORA, BEST, META)
"""The files of a portrait's folder that travel (nothing else is read or written)."""
_REF = re.compile(rf"[0-9]{{1,20}}(/{NAME.pattern})?")
"""An owner's folder, or a portrait's (the portrait name rule of the library)."""

Portraits = dict[str, dict[str, bytes]]
"""Portrait folder (``"7/me"``) → file name → contents."""


# -- images --------------------------------------------------------------------------------


def image_bytes(image: Image.Image) -> bytes:
    """Lossless PNG (masks and sources must arrive pixel-exact)."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def put_image(image: Image.Image, images: dict[str, str]) -> dict[str, str]:
    data = image_bytes(image)
    digest = hashlib.sha256(data).hexdigest()
    images.setdefault(digest, base64.b64encode(data).decode("ascii"))
    return {"$image": digest}


def get_image(value: Any, images: Mapping[str, str], where: str) -> Image.Image:
    if not isinstance(value, dict) or not isinstance(value.get("$image"), str):
        raise WireError(f"{where}: expected an image reference {{'$image': sha256}}")
    digest = value["$image"]
    encoded = images.get(digest)
    if encoded is None:
        raise WireError(f"{where}: image {digest[:12]}… is not in the request's images")
    return open_image(_checked(encoded, digest, f"{where}: image {digest[:12]}…"), where)


def open_image(data: bytes, where: str) -> Image.Image:
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


def _checked(encoded: str, digest: str, what: str) -> bytes:
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise WireError(f"{what} is not valid base64") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise WireError(f"{what} does not match its sha256")
    return data


# -- portraits -----------------------------------------------------------------------------


def portrait_ref(path: Path, root: Path | None, where: str) -> str:
    """``path`` (a portrait's folder or an owner's) relative to the portraits ``root``."""
    try:
        ref = path.relative_to(root).as_posix() if root is not None else ""
    except ValueError:
        ref = ""
    if not _REF.fullmatch(ref):
        raise WireError(f"{where}: a path on this machine cannot travel to a GPU worker")
    return ref


def portrait_path(ref: Any, root: Path | None, where: str) -> Path:
    """The folder ``ref`` names under this side's portraits ``root``."""
    if not isinstance(ref, str) or not _REF.fullmatch(ref):
        raise WireError(f"{where}: {ref!r} is not a portrait folder (owner or owner/name)")
    if root is None:
        raise WireError(f"{where}: this worker keeps no portraits (set MJ_DATA_DIR)")
    return root.joinpath(*ref.split("/"))


def portraits_used(request: GenerationRequest, root: Path | None) -> list[str]:
    """The portrait folders whose files a worker needs for ``request``: each face LoRA it
    names and a portraits job's folder (a training brings its own photos)."""
    refs = set()
    for use in request.loras:
        parts = portrait_parts(use.name)
        if parts is not None:
            refs.add("/".join(parts))
    if request.portrait is not None:
        refs.add(portrait_ref(request.portrait.folder, root, "request.portrait.folder"))
    return sorted(refs)


def read_portraits(root: Path | None, refs: Iterable[str]) -> Portraits:
    """The files of each portrait folder in ``refs`` (those it has)."""
    out: Portraits = {}
    for ref in refs:
        folder = portrait_path(ref, root, "portraits")
        out[ref] = {
            name: (folder / name).read_bytes()
            for name in PORTRAIT_FILES
            if (folder / name).is_file()
        }
    return out


def pack_portraits(portraits: Portraits) -> dict[str, Any]:
    """For the JSON body: folder → file → ``{"sha256", "data"}``."""
    return {
        ref: {
            name: {
                "sha256": hashlib.sha256(data).hexdigest(),
                "data": base64.b64encode(data).decode("ascii"),
            }
            for name, data in files.items()
        }
        for ref, files in portraits.items()
    }


def unpack_portraits(value: Any, where: str) -> Portraits:
    """:func:`pack_portraits`'s output read back, every name and hash checked."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WireError(f"{where}: expected an object of portrait folders")
    out: Portraits = {}
    for ref, files in value.items():
        if not _REF.fullmatch(str(ref)) or "/" not in str(ref) or not isinstance(files, dict):
            raise WireError(f"{where}: {ref!r} is not a portrait (owner/name → files)")
        out[ref] = {}
        for name, blob in files.items():
            what = f"{where}.{ref}/{name}"
            if name not in PORTRAIT_FILES:
                raise WireError(f"{what}: not a portrait file ({', '.join(PORTRAIT_FILES)})")
            if not isinstance(blob, dict) or not all(
                isinstance(blob.get(key), str) for key in ("sha256", "data")
            ):
                raise WireError(f"{what}: expected {{'sha256', 'data'}}")
            out[ref][name] = _checked(blob["data"], blob["sha256"], what)
    return out


def write_portraits(root: Path | None, portraits: Portraits) -> None:
    """Write each folder's files under ``root`` (each atomically; an unchanged one is left
    alone, so replicas on one machine may write the same folder at once)."""
    for ref, files in portraits.items():
        folder = portrait_path(ref, root, "portraits")
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            target = folder / name
            if target.is_file() and target.read_bytes() == data:
                continue
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise


def training_ref(request: GenerationRequest, root: Path | None) -> str | None:
    """The folder a training request writes (``owner/name``), to send back with its result."""
    training = request.training
    if request.operation is not Operation.FACE_TRAINING or training is None:
        return None
    return portrait_ref(training.root / training.name, root, "request.training")
