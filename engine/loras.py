"""LoRAs in prompts (``--lora name::0.7``): a folder of LoRA files, each applied to one job.

The folder (``MJ_LORA_DIR``) holds ``.safetensors`` LoRAs in diffusers' or kohya/A1111's
format (diffusers' ``load_lora_weights`` reads both) and an optional manifest, ``loras.json``::

    {"watercolor": {"file": "wc_v2.safetensors", "weight": 0.8, "trigger": "wtrcolor style",
                    "description": "soft watercolour washes"}}

A file without a manifest entry is named by its stem, weight 1, no trigger word. A job's LoRAs
are loaded into the model's U-Net (and text encoders) when it starts, weighted with
``set_adapters``, their trigger words added to its prompt, and unloaded when it ends — so a job
after it renders exactly as if no LoRA had ever been loaded.

A person's face LoRA (``/portrait``) is named ``portrait:<owner>/<name>`` and read from the
portraits folder (``<portraits>/<owner>/<name>/lora.safetensors``); a prompt cannot name one
(``:`` is not allowed in ``--lora`` names), only the portrait jobs and their children do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import InvalidRequestError, ModelLoadError

__all__ = [
    "MANIFEST",
    "PORTRAIT_LORA_FILE",
    "LoraEntry",
    "LoraLibrary",
    "LoraUse",
    "applied_loras",
    "portrait_lora",
    "portrait_parts",
]

log = logging.getLogger(__name__)

MANIFEST = "loras.json"
SUFFIX = ".safetensors"
PORTRAIT_LORA_FILE = "lora.safetensors"
_PORTRAIT = re.compile(r"portrait:([0-9]{1,20})/([A-Za-z0-9][A-Za-z0-9_-]{0,31})")


def portrait_parts(name: str) -> tuple[str, str] | None:
    """``(owner, name)`` of a face LoRA's name (``portrait:<owner>/<name>``), else ``None``."""
    found = _PORTRAIT.fullmatch(name)
    return None if found is None else (found.group(1), found.group(2))


def portrait_lora(owner: int, name: str) -> str:
    """The LoRA name of ``owner``'s portrait ``name`` (resolved in the portraits folder)."""
    return f"portrait:{owner}/{name}"


@dataclass(frozen=True, slots=True)
class LoraUse:
    """A LoRA a request asks for: its name and weight (``None``: the LoRA's default)."""

    name: str
    weight: float | None = None


@dataclass(frozen=True, slots=True)
class LoraEntry:
    name: str
    path: Path
    weight: float = 1.0
    trigger: str = ""
    description: str = ""


class LoraLibrary:
    """The LoRAs of one folder (read again when the folder changes: files can be added while
    the bot runs)."""

    def __init__(self, folder: Path | None, portraits: Path | None = None) -> None:
        self.folder = folder
        self.portraits = portraits
        self._stamp: tuple[float, ...] | None = None
        self._entries: dict[str, LoraEntry] = {}

    def entries(self) -> list[LoraEntry]:
        """Every LoRA, by name."""
        self._refresh()
        return [self._entries[name] for name in sorted(self._entries)]

    def resolve(self, uses: Sequence[LoraUse]) -> list[tuple[LoraEntry, float]]:
        """Each use's entry and weight; :class:`InvalidRequestError` naming an unknown one."""
        self._refresh()
        out = []
        for use in uses:
            entry = self._portrait(use.name) or self._entries.get(use.name)
            if entry is None:
                known = ", ".join(sorted(self._entries)) or "none (set MJ_LORA_DIR)"
                raise InvalidRequestError(f"--lora {use.name}: no such LoRA; available: {known}")
            out.append((entry, entry.weight if use.weight is None else use.weight))
        return out

    def _portrait(self, name: str) -> LoraEntry | None:
        """A face LoRA of the portraits folder, if ``name`` names one."""
        found = _PORTRAIT.fullmatch(name)
        if found is None:
            return None
        owner, person = found.groups()
        path = (self.portraits or Path("/nonexistent")) / owner / person / PORTRAIT_LORA_FILE
        if not path.is_file():
            raise InvalidRequestError(
                f"the portrait {person!r} is gone (forgotten with /portrait forget, or never "
                "trained here)"
            )
        return LoraEntry(name, path)

    def _refresh(self) -> None:
        folder = self.folder
        if folder is None or not folder.is_dir():
            self._entries = {}
            return
        files = sorted(folder.glob(f"*{SUFFIX}"))
        manifest = folder / MANIFEST
        watched = [*files, manifest] if manifest.exists() else files
        stamp = (*(p.stat().st_mtime for p in watched), len(watched))
        if stamp == self._stamp:
            return
        entries = {p.stem: LoraEntry(p.stem, p) for p in files}
        if manifest.exists():
            entries.update(_read_manifest(manifest, folder))
        self._entries, self._stamp = entries, stamp


def _read_manifest(path: Path, folder: Path) -> dict[str, LoraEntry]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{path}: not a readable JSON manifest ({error})") from error
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: the manifest must be an object of name → entry")
    entries = {}
    for name, item in data.items():
        if not isinstance(item, dict):
            raise ModelLoadError(f"{path}: {name!r} must be an object")
        file = folder / str(item.get("file", f"{name}{SUFFIX}"))
        if file.parent != folder or not file.is_file():
            raise ModelLoadError(f"{path}: {name!r} names {file.name}, which is not in {folder}")
        entries[str(name)] = LoraEntry(
            str(name),
            file,
            float(item.get("weight", 1.0)),
            str(item.get("trigger", "")),
            str(item.get("description", "")),
        )
    return entries


@contextlib.contextmanager
def applied_loras(pipe: Any, loras: Sequence[tuple[LoraEntry, float]]) -> Iterator[None]:
    """``loras`` loaded into ``pipe`` (and so into every pipeline sharing its modules) and
    weighted, for the body of the ``with``; all of them unloaded after, whatever happens."""
    if not loras:
        yield
        return
    names = []
    try:
        for index, (entry, _) in enumerate(loras):
            name = f"job{index}"
            try:
                pipe.load_lora_weights(str(entry.path), adapter_name=name)
            except (OSError, ValueError, KeyError, RuntimeError) as error:
                raise InvalidRequestError(
                    f"--lora {entry.name}: {entry.path.name} is not a LoRA for this model "
                    f"({type(error).__name__}: {str(error)[:200]})"
                ) from error
            names.append(name)
        pipe.set_adapters(names, adapter_weights=[weight for _, weight in loras])
        yield
    finally:
        if names:
            pipe.unload_lora_weights()
