"""The VGG19 feature network of style transfer: its layout, weights and per-device cache.

The network is VGG19's convolutional part laid out as torchvision's ``vgg19().features``
(convs at 0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34, a ReLU after each,
pooling at 4, 9, 18, 27, 36), built here without torchvision. Pooling is *average* pooling:
Gatys et al. (2015, §2) replace VGG's max-pooling with it for better gradient flow and
slightly more appealing results, and the pretrained filters work unchanged with it. Only the
layers up to the deepest one a loss reads are built and run (``engine/transfer/losses.py``).

Weights (``MJ_VGG19`` → :attr:`engine.engine.EngineConfig.vgg19`): a local ``.safetensors``
or ``.pth`` in torchvision's or timm's key layout (``features.N.weight``/``bias``; any other
key, like timm's ``pre_logits``/``head``, is ignored), or a Hub id such as
``timm/vgg19.tv_in1k`` (from the local cache when ``HF_HUB_OFFLINE=1``). Without one, the
built-in network has VGG19's layout at a quarter of its width (16-32-64-128-128 channels)
with fixed-seed random He-normal filters: random filters do real texture and colour transfer
(Ustyuzhaninov et al. 2016) and a quarter width keeps a CPU step ~16× cheaper than VGG19.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelLoadError
from engine.transfer.losses import NETWORK_DEPTH

__all__ = [
    "BUILTIN_NAME",
    "BUILTIN_WIDTH_DIVISOR",
    "CONV_INDICES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Backbone",
    "BackboneRegistry",
    "build_features",
    "describe_backbone",
    "load_backbone",
    "random_backbone",
]

log = logging.getLogger(__name__)

VGG19_CHANNELS: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M")
VGG19_CHANNELS += (512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
"""Where the convolutions sit in ``vgg19().features`` (each followed by its ReLU)."""
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BUILTIN_NAME = "builtin:random-vgg19"
BUILTIN_WIDTH_DIVISOR = 4
BUILTIN_SEED = 20151  # fixed: the built-in network is the same on every machine
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
HUB_FILES = ("model.safetensors", "pytorch_model.bin")


def build_features(width_divisor: int = 1, depth: int = NETWORK_DEPTH) -> Any:
    """``vgg19().features[:depth]`` (average pooling) as a ``torch.nn.Sequential`` with
    ``1/width_divisor`` of the channels; untrained."""
    import torch

    layers: list[Any] = []
    channels = 3
    for spec in VGG19_CHANNELS:
        if spec == "M":
            layers.append(torch.nn.AvgPool2d(kernel_size=2, stride=2))
        else:
            width = max(1, int(spec) // width_divisor)
            layers.append(torch.nn.Conv2d(channels, width, kernel_size=3, padding=1))
            layers.append(torch.nn.ReLU(inplace=True))
            channels = width
    return torch.nn.Sequential(*layers[:depth])


@dataclass(eq=False)
class Backbone:
    """A feature network ready on its device: :meth:`features` gives the activations of the
    requested layers for ``[0, 1]`` RGB images (ImageNet normalisation is applied here)."""

    name: str
    network: Any
    device: str

    def features(self, image: Any, layers: tuple[int, ...]) -> dict[int, Any]:
        """``{index: activation}`` after the modules at ``layers`` (indices into
        ``vgg19().features``), running the network no further than the deepest."""
        import torch

        mean = torch.tensor(IMAGENET_MEAN, device=image.device, dtype=image.dtype)
        std = torch.tensor(IMAGENET_STD, device=image.device, dtype=image.dtype)
        x = (image - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
        wanted = set(layers)
        deepest = max(layers)
        out: dict[int, Any] = {}
        for index, module in enumerate(self.network):
            x = module(x)
            if index in wanted:
                out[index] = x
            if index == deepest:
                break
        return out


def random_backbone(
    width_divisor: int = BUILTIN_WIDTH_DIVISOR,
    *,
    depth: int = NETWORK_DEPTH,
    device: str = "cpu",
    seed: int = BUILTIN_SEED,
    name: str = BUILTIN_NAME,
) -> Backbone:
    """VGG19's layout with fixed-seed random He-normal filters (zero biases)."""
    import torch

    network = build_features(width_divisor, depth)
    generator = torch.Generator("cpu").manual_seed(seed)
    with torch.no_grad():
        for module in network:
            if isinstance(module, torch.nn.Conv2d):
                fan_in = module.in_channels * 9
                weight = torch.randn(module.weight.shape, generator=generator)
                module.weight.copy_(weight * (2.0 / fan_in) ** 0.5)
                module.bias.zero_()
    return _ready(name, network, device)


def load_backbone(source: str, *, depth: int = NETWORK_DEPTH, device: str = "cpu") -> Backbone:
    """VGG19 with the weights of ``source``: a ``.safetensors``/``.pth`` file or a Hub id."""
    path = Path(source).expanduser()
    if path.suffix in WEIGHT_SUFFIXES or source.startswith((".", "/", "~")) or path.exists():
        if not path.is_file():
            raise ModelLoadError(f"VGG19 weights {source} do not exist (MJ_VGG19)")
        files = [path]
    else:
        files = [_hub_file(source)]
    network = build_features(1, depth)
    _load_state(network, _read_features(files[0]), files[0])
    return _ready(f"vgg19:{source}", network, device)


def _hub_file(repo_id: str) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    for filename in HUB_FILES:
        try:
            return Path(hf_hub_download(repo_id, filename))
        except LocalEntryNotFoundError as error:  # a subclass of EntryNotFoundError
            raise ModelLoadError(
                f"VGG19 weights {repo_id} are not in the local Hub cache and the Hub cannot be "
                f"reached (download them once online, or set MJ_VGG19 to a file): {error}"
            ) from error
        except EntryNotFoundError:
            continue
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"could not fetch VGG19 weights {repo_id}: {error}") from error
    raise ModelLoadError(f"{repo_id} has none of {', '.join(HUB_FILES)} (MJ_VGG19)")


def _read_features(path: Path) -> dict[str, Any]:
    """The ``features.*`` tensors of a weights file (the classifier is never read)."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                return {
                    key: handle.get_tensor(key)
                    for key in handle.keys()  # noqa: SIM118 - safe_open is not a mapping
                    if key.startswith("features.")
                }
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (OSError, RuntimeError, ValueError) as error:
        raise ModelLoadError(f"could not read VGG19 weights {path}: {error}") from error
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelLoadError(f"{path} holds a {type(state).__name__}, not a state dict")
    return {k: v for k, v in state.items() if isinstance(k, str) and k.startswith("features.")}


def _load_state(network: Any, state: dict[str, Any], path: Path) -> None:
    import torch

    own = network.state_dict()
    for key, expected in own.items():
        name = f"features.{key}"
        if name not in state:
            raise ModelLoadError(
                f"{path} is not VGG19 weights in torchvision's or timm's layout: {name} is missing"
            )
        if tuple(state[name].shape) != tuple(expected.shape):
            raise ModelLoadError(
                f"{path} is not VGG19 weights: {name} has shape {tuple(state[name].shape)}, "
                f"expected {tuple(expected.shape)}"
            )
    with torch.no_grad():
        network.load_state_dict(
            {key: state[f"features.{key}"].to(torch.float32) for key in own}, strict=True
        )


def _ready(name: str, network: Any, device: str) -> Backbone:
    network = network.to(device).eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    log.info("style transfer backbone %s on %s", name, device)
    return Backbone(name, network, device)


class BackboneRegistry:
    """The style-transfer backbones of one device, each loaded once, on first use (on the
    worker thread). ``source`` ``None`` is the built-in random-filter network."""

    def __init__(
        self, source: str | None = None, *, device: str = "cpu", depth: int = NETWORK_DEPTH
    ) -> None:
        self.source = source
        self.device = device
        self.depth = depth
        self._loaded: dict[str | None, Backbone] = {}
        self._lock = threading.Lock()

    def add(self, backbone: Backbone, source: str | None = None) -> None:
        """Serve an already built backbone for ``source`` (tests, benchmarks)."""
        self._loaded[source] = backbone

    def get(self, source: str | None = None) -> Backbone:
        source = source if source is not None else self.source
        with self._lock:
            if source not in self._loaded:
                self._loaded[source] = (
                    random_backbone(depth=self.depth, device=self.device)
                    if source is None
                    else load_backbone(source, depth=self.depth, device=self.device)
                )
            return self._loaded[source]


def describe_backbone(source: str | None) -> str:
    """One start-up line saying which network style transfer uses (nothing is loaded)."""
    if source is None:
        return (
            "style transfer: built-in random-filter network "
            "(set MJ_VGG19 to real VGG19 weights for better results)"
        )
    return f"style transfer: VGG19 weights from {source}"
