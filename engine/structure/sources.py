"""Where the structure models come from: a Hub id, a local folder, or ``builtin:tiny``.

The depth estimator and the subject segmenter take the same kind of setting, so they share
one reading of it and one way of saying why it cannot be loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ModelLoadError

__all__ = ["BUILTIN_TINY", "ModelSource", "seeded"]

BUILTIN_TINY = "builtin:tiny"
"""A tiny random-weight model built in code: it runs every path, and means nothing."""


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
