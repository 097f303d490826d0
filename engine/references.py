"""Reference images through IP-Adapter: image prompts, style references, character references.

Four adapters share one CLIP image encoder in one pipeline, each in its own slot:

* ``image``: the plain IP-Adapter, for image prompts. Scale from ``--iw``: ``1 − 2^(−iw)``
  (0 → off, 1 → 0.5 balanced, 2 → 0.75, 3 → 0.875).
* ``style``: the plain IP-Adapter again, with InstantStyle per-block scales (the style block
  only). Scale from ``--sw``: ``0.75·∛(sw/100)`` (0 → off, 50 → 0.6, 100 → 0.75,
  250 → 1.02, 500 → 1.28, 1000 → 1.62): every doubling of ``--sw`` multiplies the scale by
  1.26, so the whole 0–1000 range keeps changing the image (the former ``1.2·(1 − e^(−sw/100))``
  saturated: 500 → 1000 moved it by 0.5%).
* ``character``: IP-Adapter Plus on the whole reference. Scale from ``--cw``: ``0.7·cw/100``
  (0 → off: face only).
* ``face``: IP-Adapter Plus-Face on the reference's face crop (``engine/faces.py``), at 0.6
  whenever there is a ``--cref``.

Several images in one slot are combined into one embedding, weighted by their ``::``
weights. Style codes (``--sref 762351716``) are rendered to a style image
(:func:`engine.style_codes.style_image`) and encoded like any other style reference.

The style block is the first up-block with attention layers, and within it the middle
attention: ``up_blocks.0.attentions.1`` on SDXL (InstantStyle's choice) and
``up_blocks.1.attentions.1`` on SD 1.5, whose ``up_blocks.0`` has no attention at all (naming it
would silently switch the adapter off).

Adapters are loaded on first use and stay in memory, but they are only *installed* in the
UNet while a job with references runs (:meth:`ReferenceAdapters.active`): jobs without
references run exactly as if no adapter had ever been loaded.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from engine.adapter_layout import ADAPTER_FILES, AdapterFiles
from engine.errors import InvalidRequestError, ModelLoadError
from engine.request import GenerationRequest, Reference, ReferenceRole

__all__ = [
    "ADAPTER_FILES",
    "FACE_SCALE",
    "AdapterFiles",
    "ReferenceAdapters",
    "character_scale",
    "image_scale",
    "load_adapters",
    "style_block_scales",
    "style_scale",
]

log = logging.getLogger(__name__)

FACE_SCALE = 0.6
CHARACTER_MAX_SCALE = 0.7
STYLE_SCALE_AT_100 = 0.75
STYLE_EXPONENT = 1 / 3
SLOTS = ("image", "style", "character", "face")


def image_scale(iw: float) -> float:
    """Adapter scale for ``--iw``: each unit halves the distance to 1 (image only)."""
    return 0.0 if iw <= 0 else 1.0 - 2.0 ** (-iw)


def style_scale(sw: int) -> float:
    """Adapter scale of the style block for ``--sw``: ``0.75·∛(sw/100)`` (0 switches it off)."""
    return float(STYLE_SCALE_AT_100 * (max(0, sw) / 100) ** STYLE_EXPONENT)


def character_scale(cw: int) -> float:
    """Scale of the whole-image character adapter; the face adapter stays at FACE_SCALE."""
    return CHARACTER_MAX_SCALE * max(0, min(100, cw)) / 100


def style_block_scales(unet: Any, scale: float) -> dict[str, Any]:
    """InstantStyle's "style only" scales for this UNet: ``scale`` on the middle attention
    of the first up-block that has attentions, 0 everywhere else."""
    for index, block in enumerate(unet.up_blocks):
        attentions = getattr(block, "attentions", None)
        if attentions:
            scales = [0.0] * len(attentions)
            scales[min(1, len(attentions) - 1)] = scale
            return {"up": {f"block_{index}": scales}}
    raise InvalidRequestError("this model's UNet has no attention in its up-blocks")


class ReferenceAdapters:
    """The four adapters of one model, loaded into its UNet, and the image encoder."""

    def __init__(self, pipe: Any, plain: dict[str, Any], installed: dict[str, Any]) -> None:
        self.pipe = pipe
        self.encoder = pipe.image_encoder
        self._plain = plain
        self._installed = installed
        self._blank: Any = None
        from transformers import CLIPImageProcessor

        size = int(self.encoder.config.image_size)
        self.processor = CLIPImageProcessor(size=size, crop_size=size)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Install the adapters in the (shared) UNet for one job, and take them out after."""
        _install(self.pipe.unet, self._installed)
        try:
            yield
        finally:
            _install(self.pipe.unet, self._plain)

    def prepare(self, pipe: Any, request: GenerationRequest, count: int) -> dict[str, Any]:
        """Set the slots' scales on ``pipe`` (call inside :meth:`active`) and return the
        pipeline arguments carrying the image embeddings for ``count`` images."""
        import torch

        by_role: dict[ReferenceRole, list[Reference]] = {role: [] for role in ReferenceRole}
        for reference in request.references:
            by_role[reference.role].append(reference)
        images = by_role[ReferenceRole.IMAGE]
        styles = by_role[ReferenceRole.STYLE]
        characters = by_role[ReferenceRole.CHARACTER]
        scales: list[Any] = [
            image_scale(request.image_weight) if images else 0.0,
            style_block_scales(pipe.unet, style_scale(request.style_weight) if styles else 0.0),
            character_scale(request.character_weight) if characters else 0.0,
            FACE_SCALE if characters else 0.0,
        ]
        pipe.set_ip_adapter_scale(scales)
        with torch.no_grad():
            embeds = [
                self._embed(_pictures(images), hidden=False),
                self._embed(_pictures(styles), hidden=False),
                self._embed(_pictures(characters), hidden=True),
                self._embed(_faces(characters), hidden=True),
            ]
        out = []
        for positive, negative in embeds:
            batch_positive = positive.expand(count, *positive.shape[1:])
            batch_negative = negative.expand(count, *negative.shape[1:])
            out.append(torch.cat([batch_negative, batch_positive]).to(pipe.unet.device))
        return {"ip_adapter_image_embeds": out}

    def _embed(self, weighted: list[tuple[Any, float]], *, hidden: bool) -> tuple[Any, Any]:
        """(positive, negative) embeddings, shaped ``(1, 1, …)``: the weighted mean of the
        images' embeddings, against zeros (plain adapters) or the blank image's hidden states
        (Plus adapters). An empty slot's scale is 0, so its values are never used: it costs no
        encoder pass."""
        import torch

        encoder = self.encoder
        dtype, device = encoder.dtype, encoder.device
        if hidden and not weighted:
            return self._blank_states(), self._blank_states()
        if not weighted:
            zeros = torch.zeros((1, 1, encoder.config.projection_dim), device=device, dtype=dtype)
            return zeros, zeros
        pixels = self.processor([image for image, _ in weighted], return_tensors="pt")
        pixel_values = pixels.pixel_values.to(device=device, dtype=dtype)
        weights = torch.tensor([w for _, w in weighted], device=device, dtype=dtype).abs()
        weights = weights / weights.sum().clamp_min(1e-6)
        if hidden:
            states = encoder(pixel_values, output_hidden_states=True).hidden_states[-2]
            positive = (states * weights[:, None, None]).sum(0, keepdim=True)
            return positive[:, None], self._blank_states()
        embeds = encoder(pixel_values).image_embeds
        positive = (embeds * weights[:, None]).sum(0, keepdim=True)
        return positive[:, None], torch.zeros_like(positive)[:, None]

    def _blank_states(self) -> Any:
        """The encoder's hidden states for a blank (all-zero) input: the Plus adapters'
        unconditional embedding, as diffusers makes it; the same for every job."""
        if self._blank is None:
            import torch

            encoder = self.encoder
            size = int(encoder.config.image_size)
            zeros = torch.zeros((1, 3, size, size), device=encoder.device, dtype=encoder.dtype)
            self._blank = encoder(zeros, output_hidden_states=True).hidden_states[-2][:, None]
        return self._blank


def _pictures(references: Sequence[Reference]) -> list[tuple[Any, float]]:
    return [(_image_of(r), r.weight) for r in references]


def _faces(references: Sequence[Reference]) -> list[tuple[Any, float]]:
    from engine.faces import face_crop

    return [(face_crop(_image_of(r)).image, r.weight) for r in references]


def _image_of(reference: Reference) -> Any:
    if reference.image is not None:
        from PIL import ImageOps

        # Phone photos are stored sideways with an EXIF rotation; faces are found upright.
        image = ImageOps.exif_transpose(reference.image)
        return image if image.mode == "RGB" else image.convert("RGB")
    if reference.code is not None:
        from engine.style_codes import style_image

        return style_image(reference.code)
    raise InvalidRequestError(f"a {reference.role} reference needs an image or a style code")


def load_adapters(pipe: Any, architecture: str, source: str, cache_dir: Path) -> ReferenceAdapters:
    """Load the four adapters (and the image encoder) from ``source`` (``builtin:tiny``, a
    folder laid out like ``h94/IP-Adapter``, or a Hub id) into ``pipe``'s UNet, then take
    them out again until a job needs them. Runs on the worker thread."""
    from engine.tiny_adapters import TINY_ADAPTERS, ensure_tiny_adapters

    files = ADAPTER_FILES[architecture]
    location: str | Path = source
    if source == TINY_ADAPTERS:
        location = ensure_tiny_adapters(cache_dir)
    elif Path(source).expanduser().is_dir():
        location = Path(source).expanduser()
    elif source.startswith((".", "/", "~")):
        raise ModelLoadError(f"IP-Adapter folder {source} (MJ_IP_ADAPTER) does not exist")
    unet = pipe.unet
    plain = {
        "processors": dict(unet.attn_processors),
        "projection": unet.encoder_hid_proj,
        "hid_dim_type": unet.config.encoder_hid_dim_type,
    }
    slots = [files.plain, files.plain, files.plus, files.plus_face]
    try:
        pipe.load_ip_adapter(
            str(location),
            subfolder=[folder for folder, _ in slots],
            weight_name=[name for _, name in slots],
            image_encoder_folder=files.encoder,
            local_files_only=source == TINY_ADAPTERS or isinstance(location, Path),
        )
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ModelLoadError(
            f"reference images need IP-Adapter weights, and {source} (MJ_IP_ADAPTER) could not "
            f"be loaded for this {architecture} model: {error}"
        ) from error
    installed = {
        "processors": dict(unet.attn_processors),
        "projection": unet.encoder_hid_proj,
        "hid_dim_type": unet.config.encoder_hid_dim_type,
    }
    _install(unet, plain)
    log.info("loaded IP-Adapters from %s (%s)", source, ", ".join(SLOTS))
    return ReferenceAdapters(pipe, plain, installed)


def _install(unet: Any, state: dict[str, Any]) -> None:
    # The projection first: the Plus adapters' resamplers have attention layers of their own,
    # which the processor dict must then match.
    unet.encoder_hid_proj = state["projection"]
    unet.config.encoder_hid_dim_type = state["hid_dim_type"]
    unet.set_attn_processor(dict(state["processors"]))
