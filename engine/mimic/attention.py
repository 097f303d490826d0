"""Reference attention: the reference U-Net's self-attention inputs, read by the imitative one.

A *writer* processor on each self-attention (``attn1``) of the reference U-Net's mid and up
blocks stores its input (the transformer block's ``norm1`` output) in a shared bank; a *reader*
on the imitative U-Net's layer of the same name lets the conditional half of the guided batch
attend over [own tokens + reference tokens] and mixes that half and half with plain
self-attention, as the authors do (``ReferenceNet_attention.py``, ratio 0.5). The unconditional
half gets plain self-attention only, computed by the very same operations as with the readers
off, so it is bit-identical to having no reference.

The reference U-Net is run on the conditional image features only (batch 1): the authors run it
on [unconditional, conditional] and then discard the unconditional half's bank anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MIX_RATIO",
    "ReferenceLink",
    "link_reference_attention",
    "reference_layers",
    "with_reference",
]

MIX_RATIO = 0.5
"""Weight of the reference-aware attention in the conditional half (the authors' ``ratio``)."""


def reference_layers(unet: Any) -> list[str]:
    """Processor names of the self-attentions in the mid and up blocks (the fused layers)."""
    return [
        name
        for name in unet.attn_processors
        if name.endswith("attn1.processor") and name.startswith(("mid_block.", "up_blocks."))
    ]


@dataclass(eq=False)
class ReferenceLink:
    """The writers and readers between one reference U-Net and one imitative U-Net.

    ``enabled`` off makes the readers plain self-attention (the reference is ignored).
    """

    layers: tuple[str, ...]
    enabled: bool = True
    bank: dict[str, Any] = field(default_factory=dict, repr=False)

    def clear(self) -> None:
        self.bank.clear()


def link_reference_attention(reference_unet: Any, imitative_unet: Any) -> ReferenceLink:
    """Install writers on ``reference_unet`` and readers on ``imitative_unet``, paired by name."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    layers = reference_layers(reference_unet)
    if layers != reference_layers(imitative_unet):
        raise ValueError("the reference and imitative U-Nets have different attention layers")
    if not layers:
        raise ValueError("the U-Nets have no self-attention in their mid and up blocks")
    link = ReferenceLink(tuple(layers))
    plain = AttnProcessor2_0()
    writers: dict[str, Any] = dict.fromkeys(reference_unet.attn_processors, plain)
    readers: dict[str, Any] = dict.fromkeys(imitative_unet.attn_processors, plain)
    for name in layers:
        writers[name] = _Writer(link, name, plain)
        readers[name] = _Reader(link, name, plain)
    reference_unet.set_attn_processor(writers)
    imitative_unet.set_attn_processor(readers)
    return link


class _Writer:
    """Stores the layer's input in the bank, then runs plain self-attention."""

    def __init__(self, link: ReferenceLink, name: str, plain: Any) -> None:
        self.link, self.name, self.plain = link, name, plain

    def __call__(
        self,
        attn: Any,
        hidden_states: Any,
        encoder_hidden_states: Any = None,
        attention_mask: Any = None,
        temb: Any = None,
    ) -> Any:
        self.link.bank[self.name] = hidden_states
        return self.plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


class _Reader:
    """Plain self-attention for the whole batch; the conditional (second) half also attends
    over the reference's tokens and is mixed ``MIX_RATIO`` : ``1 - MIX_RATIO``."""

    def __init__(self, link: ReferenceLink, name: str, plain: Any) -> None:
        self.link, self.name, self.plain = link, name, plain

    def __call__(
        self,
        attn: Any,
        hidden_states: Any,
        encoder_hidden_states: Any = None,
        attention_mask: Any = None,
        temb: Any = None,
    ) -> Any:

        out = self.plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        if not self.link.enabled:
            return out
        stored = self.link.bank.get(self.name)
        if stored is None:
            raise RuntimeError(f"no reference features for {self.name}: run the reference first")
        return with_reference(self.plain, attn, hidden_states, out, stored, temb)


def with_reference(plain: Any, attn: Any, hidden: Any, out: Any, stored: Any, temb: Any) -> Any:
    """``out`` (``plain`` self-attention over the guided batch ``hidden``) with its conditional
    (second) half replaced by ``MIX_RATIO`` of attention over [own + ``stored`` reference
    tokens] and the rest of plain self-attention; the unconditional half untouched."""
    import torch

    half = hidden.shape[0] // 2
    own = hidden[half:]
    reference = stored.to(own.dtype).expand(own.shape[0], -1, -1)
    mixed = plain(attn, own, torch.cat([own, reference], dim=1), None, temb)
    conditional = mixed * MIX_RATIO + out[half:] * (1 - MIX_RATIO)
    return torch.cat([out[:half], conditional], dim=0)
