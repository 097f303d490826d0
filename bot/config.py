"""Settings from the environment (or ``.env``): the only place the bot reads configuration."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from engine.config import EngineConfig
from engine.house_style import DEFAULT_HOUSE_STYLES, HouseStyle, HouseStyles
from engine.speed import SpeedOptions, parse_speed

__all__ = ["Settings", "SettingsError", "load_settings"]


class SettingsError(Exception):
    """Missing or invalid settings; ``str()`` lists every problem, one per line."""


DEFAULT_MODEL = "builtin:shapes"
"""The model when ``MJ_MODEL`` is unset: small, trained here, shipped in the package; it
draws what its captions say (coloured shapes), so a newcomer sees prompts followed."""

BUILTIN_MODELS = {
    "builtin:shapes": "a small built-in model that draws coloured shapes (circles, squares, "
    "triangles, stars; eight colours; left/right/top/bottom/centre) and knows no other words",
    "builtin:tiny": "a random-weight model built in code for tests: every image it makes is noise",
    "builtin:tiny-sdxl": "a random-weight SDXL-class model built in code for tests: every image "
    "it makes is noise",
}
"""What each built-in model is, in words for start-up messages."""


def describe_builtin(source: str) -> str | None:
    """One line about a built-in model (``None`` for a real one), ending with what to do."""
    if not source.startswith("builtin:"):
        return None
    what = BUILTIN_MODELS.get(source, "a model built in code")
    return f'MJ_MODEL is {source}: {what}; set MJ_MODEL for real images (see README, "Models")'


class Settings(BaseSettings):
    """Every key is documented in ``.env.example``."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    discord_token: SecretStr | None = None
    """``None``: no Discord; ``mjbot serve`` runs against the local playground."""
    discord_api_base_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    discord_guild_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)

    mj_data_dir: Path = Path("data")
    mj_database_url: str | None = None
    mj_model: str = DEFAULT_MODEL
    """Unset: the built-in model that draws coloured shapes (see :data:`DEFAULT_MODEL`)."""
    mj_models: dict[str, str] = Field(default_factory=dict)
    mj_model_config: Path | None = None
    mj_device: str = "auto"
    mj_steps: int | None = Field(None, ge=1, le=10_000)
    mj_ip_adapter: str = "auto"
    mj_vgg19: str = ""
    """Style transfer's backbone: a VGG19 weights file or Hub id; empty: the built-in
    network (random filters)."""
    mj_mimicbrush: str = ""
    """Reference edits' MimicBrush: a folder laid out like the authors' release or a Hub id
    holding one; ``builtin:mimic`` (random, tests); empty: the fallback on the diffusion
    model."""
    mj_controlnets: dict[str, str] = Field(default_factory=dict)
    """Retexture's ControlNets: ``edges``/``depth``/``sketch`` (``-xl`` for SDXL) → a Hub id,
    folder or file (JSON); the built-in shapes model ships its own edges ControlNet."""
    mj_depth_model: str = "depth-anything/Depth-Anything-V2-Small-hf"
    """Retexture's depth estimator (a Hub id or folder; ``builtin:tiny`` for tests)."""
    mj_segmenter: str = "grabcut"
    """Change Background's subject finder: ``grabcut`` (no weights), a salient-object model
    (BiRefNet, RMBG) by Hub id or folder, ``builtin:tiny``, or ``none``."""
    mj_lora_dir: Path | None = None
    """``--lora``'s folder of ``.safetensors`` LoRAs (and ``loras.json``); unset:
    ``MJ_DATA_DIR/loras``."""
    mj_transfer_steps: int | None = Field(None, ge=1, le=10_000)
    """Style transfer's optimiser steps; unset: the engine's default."""
    mj_portrait_steps: int | None = Field(None, ge=1, le=100_000)
    """``/portrait train``'s LoRA training steps; unset: 200 per kept photo (FaceChain)."""
    mj_portrait_candidates: int = Field(8, ge=4, le=32)
    """``/portrait imagine`` renders this many candidates and posts the best four."""
    mj_caption_model: str = "builtin:tiny"
    mj_clip_model: str = "builtin:tiny"
    mj_max_active_jobs: int = Field(3, ge=1, le=100)
    mj_max_queued_jobs: int = Field(10, ge=0, le=1000)
    mj_max_permutations: int = Field(40, ge=1, le=200)
    mj_banned_words_file: Path | None = None
    mj_fetch_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    mj_progress_interval: float = Field(3.0, ge=0.0)
    mj_max_attempts: int = Field(3, ge=1)
    mj_log_level: str = "INFO"
    mj_web_host: str = "127.0.0.1"
    mj_web_port: int = Field(8080, ge=0, le=65535)
    mj_public_url: str | None = None
    mj_secret: SecretStr | None = None
    mj_edit_link_minutes: int = Field(15, ge=1, le=24 * 60)
    mj_house_style: str | None = None
    mj_house_negative: str | None = None
    mj_house_guidance: float = Field(0.0, ge=-10.0, le=10.0)
    mj_min_free_disk_mb: int = Field(500, ge=0)
    mj_playground_host: str = "127.0.0.1"
    mj_playground_port: int = Field(8081, ge=0, le=65535)
    mj_speed: Annotated[SpeedOptions, NoDecode] = Field(default_factory=SpeedOptions)
    """GPU speed options, a comma list: bf16, channels_last, fused_qkv, sdpa, compile."""
    mj_batch: int = Field(1, ge=1, le=64)
    """Compatible queued grids rendered in one pipeline call (on this machine's GPUs; on a
    GPU worker: its batch size)."""
    mj_gpu_url: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Remote GPU workers (``mjbot gpu``): base URLs, comma-separated (``MJ_GPU_URLS`` is
    the same); empty: render on this machine."""
    mj_gpu_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    mj_gpu_token: SecretStr | None = None
    """The bearer token between the bot and its GPU workers; required with a GPU URL and
    by ``mjbot gpu``."""

    @field_validator("discord_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value  # `DISCORD_TOKEN=` as in .env.example

    @field_validator("discord_token")
    @classmethod
    def _token_given(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("is empty; paste the bot token from the Discord developer portal")
        return value

    @field_validator("discord_guild_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        return value

    @field_validator("mj_speed", mode="before")
    @classmethod
    def _parse_speed(cls, value: Any) -> Any:
        return parse_speed(value) if isinstance(value, str) else value

    @field_validator("mj_gpu_url", "mj_gpu_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            urls = [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
            for url in urls:
                if not url.startswith(("http://", "https://")):
                    raise ValueError(f"{url!r} is not an http(s) URL like http://gpu-head:8000")
            return urls
        return value

    @field_validator("mj_gpu_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _gpu_token_given(self) -> Settings:
        if self.gpu_urls and self.mj_gpu_token is None:
            raise ValueError(
                "MJ_GPU_TOKEN is required with MJ_GPU_URL: the GPU workers run anyone's jobs "
                "and accept only requests that carry it"
            )
        return self

    @field_validator("mj_fetch_allow_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("mj_models", "mj_controlnets", mode="before")
    @classmethod
    def _parse_models(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) and value.strip() else value or {}

    @field_validator("mj_banned_words_file")
    @classmethod
    def _file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file {value} does not exist")
        return value

    @property
    def models(self) -> dict[str, str]:
        """Version key → model source; ``default`` is ``MJ_MODEL``."""
        return {"default": self.mj_model, **self.mj_models}

    @property
    def house_styles(self) -> HouseStyles:
        """The default models' house style: the shipped one unless ``MJ_HOUSE_*`` say
        otherwise (an empty ``MJ_HOUSE_STYLE`` and ``MJ_HOUSE_NEGATIVE``: none)."""
        shipped = DEFAULT_HOUSE_STYLES.default
        if (self.mj_house_style, self.mj_house_negative, self.mj_house_guidance) == (
            None,
            None,
            0.0,
        ):
            return DEFAULT_HOUSE_STYLES
        default = HouseStyle(
            positive=shipped.positive if self.mj_house_style is None else self.mj_house_style,
            negative=shipped.negative if self.mj_house_negative is None else self.mj_house_negative,
            guidance=self.mj_house_guidance,
        )
        return replace(DEFAULT_HOUSE_STYLES, default=default)

    @property
    def gpu_urls(self) -> tuple[str, ...]:
        """Every remote GPU worker's base URL (``MJ_GPU_URL`` and ``MJ_GPU_URLS``)."""
        return tuple(dict.fromkeys([*self.mj_gpu_url, *self.mj_gpu_urls]))

    def engine_config(self, *, local: bool = False) -> EngineConfig:
        """The engine these settings describe (``local``: ignore the GPU URLs — ``mjbot
        gpu`` renders here)."""
        token = self.mj_gpu_token.get_secret_value() if self.mj_gpu_token else None
        return EngineConfig(
            models=self.models,
            devices=(self.mj_device,),
            cache_dir=self.mj_data_dir / "models",
            single_file_config=self.mj_model_config,
            steps=self.mj_steps,
            ip_adapter=self.mj_ip_adapter,
            house_styles=self.house_styles,
            vgg19=self.mj_vgg19 or None,
            mimicbrush=self.mj_mimicbrush or None,
            lora_dir=self.lora_dir,
            portrait_dir=self.portrait_dir,
            controlnets=self.mj_controlnets,
            depth_model=self.mj_depth_model or None,
            segmenter=self.mj_segmenter or None,
            speed=self.mj_speed,
            max_batch=self.mj_batch,
            gpu_urls=() if local else self.gpu_urls,
            gpu_token=token,
            gpu_attempts=self.mj_max_attempts,
        )

    @property
    def min_free_disk(self) -> int:
        """Bytes free in the data folder below which start-up and ``/info`` warn."""
        return self.mj_min_free_disk_mb * 1024 * 1024

    @property
    def database_url(self) -> str:
        if self.mj_database_url:
            return self.mj_database_url
        return f"sqlite+aiosqlite:///{(self.mj_data_dir / 'mjbot.db').resolve()}"

    @property
    def lora_dir(self) -> Path:
        """Where ``--lora`` finds LoRAs."""
        return self.mj_lora_dir or self.mj_data_dir / "loras"

    @property
    def portrait_dir(self) -> Path:
        """Where ``/portrait`` keeps each user's portraits (``<user id>/<name>/``)."""
        return self.mj_data_dir / "portraits"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; raises :class:`SettingsError` listing every missing/invalid key."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            key = "_".join(str(part) for part in problem["loc"][:1]).upper() or "(settings)"
            reason = "is required" if problem["type"] == "missing" else problem["msg"]
            lines.append(f"  {key}: {reason}")
        raise SettingsError("Invalid settings:\n" + "\n".join(lines)) from None
