"""Where IP-Adapter weights live in a folder laid out like the ``h94/IP-Adapter`` Hub repo
(the layout the built-in tiny adapters are written in too)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ADAPTER_FILES", "AdapterFiles"]


@dataclass(frozen=True, slots=True)
class AdapterFiles:
    """Where the adapters of one architecture live in an IP-Adapter repository or folder
    (``h94/IP-Adapter``'s layout): ``(subfolder, file)`` per adapter, and the shared image
    encoder's folder (ViT-H for both, so all adapters share it)."""

    encoder: str
    plain: tuple[str, str]
    plus: tuple[str, str]
    plus_face: tuple[str, str]


ADAPTER_FILES = {
    "sd": AdapterFiles(
        "models/image_encoder",
        ("models", "ip-adapter_sd15.safetensors"),
        ("models", "ip-adapter-plus_sd15.safetensors"),
        ("models", "ip-adapter-plus-face_sd15.safetensors"),
    ),
    "sdxl": AdapterFiles(
        "models/image_encoder",
        ("sdxl_models", "ip-adapter_sdxl_vit-h.safetensors"),
        ("sdxl_models", "ip-adapter-plus_sdxl_vit-h.safetensors"),
        ("sdxl_models", "ip-adapter-plus-face_sdxl_vit-h.safetensors"),
    ),
}
