"""Loading models: sources (Hub id, folder, single file, built-in), devices, versions.

Everything here runs on a worker thread: loading takes seconds to minutes.
"""

from __future__ import annotations

import gc
import json
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.catalog import DEFAULT_VERSION, ModelCatalog
from engine.errors import ModelLoadError, UnsupportedFeatureError
from engine.tiny import TINY_SOURCES, ensure_tiny_model

if TYPE_CHECKING:
    from engine.references import ReferenceAdapters
    from engine.speed import SpeedOptions, SpeedReport

__all__ = [
    "DEFAULT_VERSION",
    "SHAPES_FOLDER",
    "SHAPES_SOURCE",
    "Architecture",
    "LoadedModel",
    "ModelCatalog",
    "ModelRegistry",
    "adapter_source_for",
    "closed_vocabulary",
    "load_model",
    "prepare_model",
    "resolve_device",
    "resolve_dtype",
]

log = logging.getLogger(__name__)

DEFAULT_IP_ADAPTER = "h94/IP-Adapter"
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
BASE_STEPS = {"builtin": 8, "shapes": 20, "sd": 30, "sdxl": 30}
SHAPES_SOURCE = "builtin:shapes"
SHAPES_FOLDER = Path(__file__).resolve().parent / "builtin_models" / "shapes"
"""The trained ``builtin:shapes`` model shipped in the package (see ``engine/shapes/``)."""


class Architecture(StrEnum):
    SD = "sd"
    """Stable Diffusion 1.x/2.x class: one text encoder, native 512."""
    SDXL = "sdxl"
    """Stable Diffusion XL class: two text encoders, pooled and time conditioning."""


@dataclass(eq=False)
class LoadedModel:
    """A text-to-image pipeline and the pipelines derived from it, sharing its weights."""

    source: str
    text2img: Any
    architecture: Architecture
    native: int
    """Side of the square image the model was trained at (pixels)."""
    base_steps: int
    adapter_source: str | None = None
    """Where the IP-Adapters for reference images come from (``None``: not available)."""
    cache_dir: Path = Path("data/models")
    closed_vocabulary: bool = False
    """The model knows only the words of its training captions (``builtin:shapes``): no house
    style is added to its prompts (words it never learned, past its 32-token context)."""
    speed: SpeedReport | None = None
    """What the speed options did to it (``None``: none were asked for)."""
    _img2img: Any = field(default=None, repr=False)
    _inpaint: Any = field(default=None, repr=False)
    _references: ReferenceAdapters | None = field(default=None, repr=False)
    _controlnets: dict[int, Any] = field(default_factory=dict, repr=False)

    @property
    def device(self) -> Any:
        return self.text2img.device

    @property
    def dtype(self) -> Any:
        return self.text2img.unet.dtype

    @property
    def vae_scale_factor(self) -> int:
        return int(self.text2img.vae_scale_factor)

    @property
    def max_steps(self) -> int:
        """The longest schedule: the model's training timesteps. More only repeat timesteps
        (DPM++ with Karras sigmas even fails past ~1040 steps of 1000)."""
        return int(self.text2img.scheduler.config.get("num_train_timesteps", 1000))

    def img2img(self) -> Any:
        if self._img2img is None:
            from diffusers import AutoPipelineForImage2Image

            # The Auto* variant keeps the dtype; a concrete class's from_pipe would upcast the
            # shared modules to float32 in place (diffusers issue #12754).
            self._img2img = AutoPipelineForImage2Image.from_pipe(self.text2img)
            # from_pipe does not carry the progress-bar setting over: no tqdm on stderr.
            self._img2img.set_progress_bar_config(disable=True)
        return self._img2img

    def inpaint(self) -> Any:
        if self._inpaint is None:
            from diffusers import AutoPipelineForInpainting

            self._inpaint = AutoPipelineForInpainting.from_pipe(self.text2img)
            self._inpaint.set_progress_bar_config(disable=True)
        return self._inpaint

    def controlnet(self, net: Any) -> Any:
        """The ControlNet pipeline for ``net``, sharing every other module with the model."""
        key = id(net)
        if key not in self._controlnets:
            from diffusers import AutoPipelineForText2Image

            pipe = AutoPipelineForText2Image.from_pipe(self.text2img, controlnet=net)
            pipe.set_progress_bar_config(disable=True)
            self._controlnets[key] = pipe
        return self._controlnets[key]

    def references(self) -> ReferenceAdapters:
        """The IP-Adapters for reference images, loaded on first use (worker thread)."""
        if self._references is None:
            from engine.references import load_adapters

            if self.adapter_source is None:
                raise ModelLoadError("reference images are not configured for this model")
            self._references = load_adapters(
                self.text2img, self.architecture.value, self.adapter_source, self.cache_dir
            )
        return self._references


def resolve_device(spec: str = "auto") -> str:
    """``auto`` → ``cuda`` when available, then ``mps``, else ``cpu``; other values pass."""
    if spec != "auto":
        return spec
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(spec: str, device: str) -> Any:
    """``auto`` → bfloat16 on CUDA when supported (fp16 overflows the SDXL VAE), else float16
    on GPUs, float32 on CPU; or an explicit ``float32``/``float16``/``bfloat16``."""
    import torch

    if spec != "auto":
        try:
            return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[
                spec
            ]
        except KeyError:
            raise ModelLoadError(
                f"unknown dtype {spec!r}; use float32, float16 or bfloat16"
            ) from None
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.startswith("mps"):
        return torch.float16
    return torch.float32


def load_model(
    source: str,
    *,
    device: str,
    dtype: Any,
    cache_dir: Path,
    single_file_config: Path | None = None,
    sampler: str = "dpm++",
    steps: int | None = None,
    ip_adapter: str = "auto",
    speed: SpeedOptions | None = None,
) -> LoadedModel:
    """Load ``source``: ``builtin:shapes`` (the trained model in the package),
    ``builtin:tiny[-sdxl]``, a diffusers folder, a ``.safetensors``/``.ckpt`` checkpoint (with
    configs from ``single_file_config``), or a Hub id (from the local cache when
    ``HF_HUB_OFFLINE=1``)."""
    from diffusers import AutoPipelineForText2Image

    builtin = source in TINY_SOURCES
    path = Path(source).expanduser()
    dtype = dtype if speed is None else speed.dtype_for(dtype)
    try:
        if source == SHAPES_SOURCE:
            if not (SHAPES_FOLDER / "model_index.json").exists():
                raise ModelLoadError(
                    f"{SHAPES_SOURCE} is missing from this installation ({SHAPES_FOLDER}); "
                    "export it with python -m engine.shapes.export --run <training run folder>"
                )
            pipe = AutoPipelineForText2Image.from_pretrained(
                SHAPES_FOLDER, dtype=dtype, local_files_only=True
            )
        elif builtin:
            folder = ensure_tiny_model(source, cache_dir)
            pipe = AutoPipelineForText2Image.from_pretrained(
                folder, dtype=dtype, local_files_only=True
            )
        elif path.suffix in SINGLE_FILE_SUFFIXES:
            pipe = _load_single_file(path, dtype, single_file_config)
        elif path.is_dir():
            pipe = AutoPipelineForText2Image.from_pretrained(
                path, dtype=dtype, local_files_only=True
            )
        elif source.startswith((".", "/", "~")):
            raise ModelLoadError(f"model folder {source} does not exist")
        else:
            pipe = AutoPipelineForText2Image.from_pretrained(source, dtype=dtype)
    except ModelLoadError:
        raise
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"could not load model {source}: {error}") from error
    if steps is None and builtin:
        steps = BASE_STEPS["builtin"]
    if steps is None and source == SHAPES_SOURCE:
        steps = BASE_STEPS["shapes"]
    model = prepare_model(
        pipe, source, device=device, sampler=sampler, base_steps=steps, speed=speed
    )
    model.adapter_source = adapter_source_for(source, ip_adapter)
    model.cache_dir = cache_dir
    model.closed_vocabulary = closed_vocabulary(source)
    return model


def closed_vocabulary(source: str) -> bool:
    """Whether the model at ``source`` knows only its training world's words (no people)."""
    return source == SHAPES_SOURCE or _declares_closed_vocabulary(source)


def _declares_closed_vocabulary(source: str) -> bool:
    """A model trained by ``engine.shapes`` (an exported folder loaded by its path) says in
    its ``training.json`` that it knows only its world's words: no house style for it."""
    marker = Path(source) / "training.json"
    try:
        return bool(json.loads(marker.read_text(encoding="utf-8")).get("closed_vocabulary"))
    except (OSError, ValueError, AttributeError):
        return False


def prepare_model(
    pipe: Any,
    source: str,
    *,
    device: str,
    sampler: str = "dpm++",
    base_steps: int | None = None,
    speed: SpeedOptions | None = None,
) -> LoadedModel:
    """Wrap a text-to-image pipeline for the engine: detect its architecture, set the
    sampler, move it to ``device``, apply the ``speed`` options (compile warm-up included,
    at the native size). ``base_steps`` defaults to the architecture's."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if isinstance(pipe, StableDiffusionXLPipeline):
        architecture = Architecture.SDXL
    elif isinstance(pipe, StableDiffusionPipeline):
        architecture = Architecture.SD
    else:
        raise UnsupportedFeatureError(
            f"{source} is a {type(pipe).__name__}; only Stable Diffusion 1.x/2.x and SDXL "
            "pipelines are supported"
        )
    _set_sampler(pipe, sampler)
    pipe.set_progress_bar_config(disable=True)
    pipe = pipe.to(device)
    native = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
    steps = base_steps if base_steps is not None else BASE_STEPS[architecture.value]
    report = None
    if speed is not None and speed.names:
        from engine.speed import speed_up

        report = speed_up(pipe, speed, (native, native))
        log.info("%s: %s", source, report.describe())
    log.info(
        "loaded %s (%s, native %d px) on %s as %s",
        source,
        architecture,
        native,
        device,
        pipe.unet.dtype,
    )
    return LoadedModel(source, pipe, architecture, native, steps, speed=report)


def _load_single_file(path: Path, dtype: Any, config: Path | None) -> Any:
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if not path.is_file():
        raise ModelLoadError(f"checkpoint {path} does not exist")
    if config is None:
        raise ModelLoadError(
            f"{path.name} is a single-file checkpoint: set MJ_MODEL_CONFIG to a folder with "
            "the diffusers configs of its base model (model_index.json and the component "
            "config files), so it loads without a download"
        )
    index = (config / "model_index.json").read_text(encoding="utf-8")
    cls = StableDiffusionXLPipeline if "StableDiffusionXL" in index else StableDiffusionPipeline
    return cls.from_single_file(str(path), config=str(config), dtype=dtype, local_files_only=True)


def _set_sampler(pipe: Any, sampler: str) -> None:
    from diffusers import DPMSolverMultistepScheduler, EulerDiscreteScheduler

    if sampler == "dpm++":
        # DPM++ 2M with Karras sigmas: good images in 25–30 steps, deterministic (no noise
        # injected per step), and it keeps the x0 prediction that --stop decodes.
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(
            pipe.scheduler.config, algorithm_type="dpmsolver++", use_karras_sigmas=True
        )
    elif sampler == "euler":
        pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    elif sampler != "model":
        raise ModelLoadError(f"unknown sampler {sampler!r}; use dpm++, euler or model")


class ModelRegistry:
    """The models of one device, each loaded once, on first use (worker thread only)."""

    def __init__(
        self,
        catalog: ModelCatalog,
        *,
        device: str,
        dtype: Any,
        cache_dir: Path,
        single_file_config: Path | None = None,
        sampler: str = "dpm++",
        steps: int | None = None,
        ip_adapter: str = "auto",
        speed: SpeedOptions | None = None,
    ) -> None:
        self.catalog = catalog
        self.speed = speed
        self.ip_adapter = ip_adapter
        self.steps = steps
        self.device = device
        self.dtype = dtype if speed is None else speed.dtype_for(dtype)
        self.cache_dir = cache_dir
        self.single_file_config = single_file_config
        self.sampler = sampler
        self._loaded: dict[str, LoadedModel] = {}

    def add(self, model: LoadedModel) -> None:
        """Serve an already loaded model for its source (benchmarks, embedding)."""
        self._loaded[model.source] = model

    def get(self, version: str | None) -> LoadedModel:
        source = self.catalog.source_for(version)
        if source not in self._loaded:
            self._loaded[source] = load_model(
                source,
                device=self.device,
                dtype=self.dtype,
                cache_dir=self.cache_dir,
                single_file_config=self.single_file_config,
                sampler=self.sampler,
                steps=self.steps,
                ip_adapter=self.ip_adapter,
                speed=self.speed,
            )
            # A model is millions of long-lived Python objects (modules, parameters, the
            # libraries imported for it): every full garbage collection walked them all,
            # 270-480 ms with the GIL held, stalling the bot's event loop mid-burst. They live
            # as long as the process, so take them out of the collector's reach.
            gc.freeze()
        return self._loaded[source]


def adapter_source_for(model_source: str, setting: str) -> str | None:
    """The IP-Adapter source for a model: ``auto`` means the built-in tiny adapters for
    the tiny models, none for ``builtin:shapes`` (no adapter is trained for it yet) and
    ``h94/IP-Adapter`` (from the local Hub cache) for real ones."""
    if setting != "auto":
        return setting
    if model_source == SHAPES_SOURCE:
        return None
    return "builtin:tiny" if model_source in TINY_SOURCES else DEFAULT_IP_ADAPTER
