"""Where the structure models come from: a Hub id, a local folder, or ``builtin:tiny``.

The depth estimator and the subject segmenter take the same kind of setting, so they share
one reading of it and one way of saying why it cannot be loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelLoadError

__all__ = ["BUILTIN_TINY", "ImagePreprocessing", "ModelSource", "seeded"]

BUILTIN_TINY = "builtin:tiny"
"""A tiny random-weight model built in code: it runs every path, and means nothing."""


Triple = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class ImagePreprocessing:
    """What a model's ``preprocessor_config.json`` says of its input (``None``: not said):
    pictures resized to ``size`` (width, height) and normalised as ``(x - mean) / std`` for
    ``x`` in 0–1 (its ``rescale_factor`` folded in)."""

    size: tuple[int, int] | None = None
    mean: Triple | None = None
    std: Triple | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ImagePreprocessing:
        """Read ``image_mean``, ``image_std``, ``do_normalize``, ``rescale_factor``,
        ``do_rescale`` and ``size``; :class:`ValueError` naming the field that is wrong."""
        rescale = (
            float(config.get("rescale_factor", 1 / 255)) if config.get("do_rescale", True) else 1.0
        )
        scale = 255.0 * rescale  # 1 when the model takes 0–1 values, as we compute them
        mean = std = None
        if config.get("do_normalize", True) is False:
            mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        else:
            if config.get("image_mean") is not None:
                mean = _triple(config["image_mean"], "image_mean")
            if config.get("image_std") is not None:
                std = _triple(config["image_std"], "image_std")
                if min(std) <= 0:
                    raise ValueError(f"image_std must be above 0, not {list(std)}")
        if scale != 1.0:  # (x·255·r − mean) / std = (x − mean/(255r)) / (std/(255r))
            mean = _scaled(mean or (0.0, 0.0, 0.0), scale)
            std = _scaled(std or (1.0, 1.0, 1.0), scale)
        return cls(_size(config.get("size")), mean, std)


def _triple(value: Any, name: str) -> Triple:
    values = [value] * 3 if isinstance(value, int | float) else value
    if not isinstance(values, list) or len(values) != 3:
        raise ValueError(f"{name} must be 3 numbers (red, green, blue), not {value!r}")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{name} must be 3 numbers (red, green, blue), not {value!r}")
    return (float(values[0]), float(values[1]), float(values[2]))


def _scaled(values: Triple, scale: float) -> Triple:
    return (values[0] / scale, values[1] / scale, values[2] / scale)


def _size(value: Any) -> tuple[int, int] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        side = value
        return (side, side) if side > 0 else None
    if isinstance(value, Mapping):
        if isinstance(value.get("height"), int) and isinstance(value.get("width"), int):
            return (int(value["width"]), int(value["height"]))
        if isinstance(value.get("shortest_edge"), int):
            return (int(value["shortest_edge"]),) * 2
    if value is not None:
        raise ValueError(f"size must be a number or height and width, not {value!r}")
    return None


@dataclass(frozen=True, slots=True)
class ModelSource:
    """A model setting and what the model is for (named in every error)."""

    value: str
    what: str
    """``"depth"``, ``"subject segmentation"``: says which model failed."""

    @property
    def builtin(self) -> bool:
        return self.value == BUILTIN_TINY

    def fail(self, problem: object) -> ModelLoadError:
        return ModelLoadError(f"could not load the {self.what} model {self.value}: {problem}")

    def locate(self) -> tuple[str, bool]:
        """What ``from_pretrained`` is given, and whether only local files may be read.

        A folder is read as it is. Anything that looks like a path but is not a folder is an
        error here, not a Hub lookup: transformers would report a baffling "repo id must be in
        the form namespace/name". A Hub id is read from the local cache alone when
        ``HF_HUB_OFFLINE`` is set, so an offline machine fails at once with a message saying
        what to download, instead of retrying the network.
        """
        if self.value.startswith("builtin:"):
            raise self.fail(f"the only built-in model is {BUILTIN_TINY}")
        path = Path(self.value).expanduser()
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise self.fail(f"the folder {path} has no config.json (not a saved model)")
            return str(path), True
        if self.value.startswith((".", "/", "~")) or path.exists() or self.value.count("/") > 1:
            raise self.fail(
                f"there is no model folder {path} (name a folder holding config.json and the "
                "weights, or a Hub id such as owner/name)"
            )
        from huggingface_hub import constants

        return self.value, bool(constants.HF_HUB_OFFLINE)

    def preprocessing(self, where: str, local: bool) -> ImagePreprocessing:
        """What the model's own ``preprocessor_config.json`` says of its input (RMBG-1.4 ships
        one: mean 0.5, std 1.0), or nothing said when it has none (BiRefNet)."""
        from transformers.utils import cached_file

        try:
            path = cached_file(
                where,
                "preprocessor_config.json",
                local_files_only=local,
                _raise_exceptions_for_missing_entries=False,
                _raise_exceptions_for_connection_errors=False,
            )
        except OSError:
            return ImagePreprocessing()
        if path is None:
            return ImagePreprocessing()
        try:
            config = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(config, dict):
                raise ValueError("it is not a JSON object")
            return ImagePreprocessing.from_config(config)
        except ValueError as error:
            raise self.fail(f"{path}: {error}") from None

    def missing(self, error: Exception, local: bool) -> ModelLoadError:
        """The error for a ``from_pretrained`` that raised ``error``, with the fix."""
        if local and not Path(self.value).expanduser().is_dir():
            hint = (
                "it is not in the local Hub cache and HF_HUB_OFFLINE is set: download it once "
                f"online (`hf download {self.value}`), or name a local folder"
            )
        else:
            hint = "check that it is a saved transformers model and its files are complete"
        return self.fail(f"{hint} ({type(error).__name__}: {error})")


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU generator for a built-in model's random weights, restoring it after:
    the weights are the same on every call, and the caller's random stream is untouched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
