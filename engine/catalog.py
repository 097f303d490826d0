"""Which model answers to which ``--v`` / ``--niji`` (the bot checks prompts against it; the
engine loads by it; GPU workers route by its keys)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.errors import UnknownVersionError

__all__ = ["DEFAULT_VERSION", "ModelCatalog"]

DEFAULT_VERSION = "default"


@dataclass(frozen=True, slots=True)
class ModelCatalog:
    """Which model answers to which ``--v``/``--niji``: keys like ``default``, ``6.1``,
    ``niji``, ``niji 6``; values are model sources."""

    sources: Mapping[str, str]

    def key_for(self, version: str | None) -> str:
        """The catalog key for a request's version; raises :class:`UnknownVersionError`."""
        if version is None:
            return DEFAULT_VERSION
        if version in self.sources:
            return version
        if version.startswith("niji") and "niji" in self.sources:
            return "niji"
        shown = ", ".join(_describe_key(k) for k in self.sources)
        raise UnknownVersionError(
            f"{_describe_key(version)} is not available on this server (available: {shown})"
        )

    def source_for(self, version: str | None) -> str:
        return self.sources[self.key_for(version)]


def _describe_key(key: str) -> str:
    if key == DEFAULT_VERSION:
        return "the default model"
    return f"--{key}" if key.startswith("niji") else f"--v {key}"
