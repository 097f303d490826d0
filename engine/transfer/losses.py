"""The losses of neural style transfer (Gatys, Ecker & Bethge 2015) — the one place where
layers, weights and normalisations are set.

Layers (indices into torchvision's ``vgg19().features``, read *after* each ReLU as in the
papers' ``relu1_1 … relu5_1``/``relu4_2``, the convolution outputs rectified):

* style: block1_conv1 … block5_conv1 = features 0, 5, 10, 19, 28 (their ReLUs 1, 6, 11, 20,
  29), equally weighted (1/5 each);
* content: block4_conv2 = feature 21 (its ReLU 22).

Normalisation:

* Gram matrix of a ``C×H×W`` activation ``F`` (``C×HW``): ``G = F·Fᵀ / (C·H·W)``, so a
  Gram does not grow with the image size and the strength curve holds at every size.
* Style loss of a layer: ``mean((G − A)²) / mean(A²)`` with ``A`` the style image's Gram;
  content loss: ``mean((F − P)²) / mean(P²)`` with ``P`` the content's activation. Dividing
  by the target's mean square makes both relative errors: every layer counts equally and the
  weights below hold for VGG19's trained filters and for random ones alike (their activations
  differ in scale by orders of magnitude).
* Total variation: mean squared difference of neighbouring pixels (``[0, 1]`` RGB), weight
  :data:`TV_WEIGHT`: a light smoothing against the high-frequency noise the optimiser leaves.

Total loss: ``content + ratio · style + TV_WEIGHT · tv`` where ``strength`` (0–1000, like
``--sw``; default 100) sets ``ratio = RATIO_AT_DEFAULT · (strength/100)²`` (one curve: 10 →
1/100 of the default's style, 1000 → 100×). Strength 0 is the content unchanged (the
operation returns it without optimising).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONTENT_LAYER",
    "NETWORK_DEPTH",
    "RATIO_AT_DEFAULT",
    "STRENGTH_DEFAULT",
    "STRENGTH_MAX",
    "STYLE_LAYERS",
    "TV_WEIGHT",
    "LossTargets",
    "content_loss",
    "gram",
    "style_loss",
    "style_ratio",
    "total_variation",
]

STYLE_LAYERS = (1, 6, 11, 20, 29)
"""The ReLUs after features 0, 5, 10, 19, 28 (block1_conv1 … block5_conv1)."""
CONTENT_LAYER = 22
"""The ReLU after feature 21 (block4_conv2)."""
NETWORK_DEPTH = max(*STYLE_LAYERS, CONTENT_LAYER) + 1
"""Modules of ``vgg19().features`` that are built and run (up to the deepest layer read)."""
STRENGTH_DEFAULT = 100
STRENGTH_MAX = 1000
RATIO_AT_DEFAULT = 30.0
TV_WEIGHT = 10.0


def style_ratio(strength: int) -> float:
    """The style/content weight ratio for ``strength`` 0–1000 (see the module docstring)."""
    return RATIO_AT_DEFAULT * (strength / STRENGTH_DEFAULT) ** 2


def gram(activation: Any) -> Any:
    """``F·Fᵀ / (C·H·W)`` of a ``1×C×H×W`` activation."""
    _, channels, height, width = activation.shape
    flat = activation.reshape(channels, height * width)
    return (flat @ flat.t()) / (channels * height * width)


@dataclass(frozen=True, slots=True)
class LossTargets:
    """What the result is pulled toward at one scale: the content's activation and the
    style's Grams, each with the mean square that makes its loss relative."""

    content: Any
    content_scale: Any
    grams: dict[int, Any]
    gram_scales: dict[int, Any]

    @classmethod
    def of(cls, content: dict[int, Any], style: dict[int, Any]) -> LossTargets:
        grams = {layer: gram(style[layer]).detach() for layer in STYLE_LAYERS}
        target = content[CONTENT_LAYER].detach()
        return cls(
            target,
            target.pow(2).mean().clamp_min(1e-12),
            grams,
            {layer: g.pow(2).mean().clamp_min(1e-12) for layer, g in grams.items()},
        )


def content_loss(features: dict[int, Any], targets: LossTargets) -> Any:
    difference = features[CONTENT_LAYER] - targets.content
    return difference.pow(2).mean() / targets.content_scale


def style_loss(features: dict[int, Any], targets: LossTargets) -> Any:
    total = 0
    for layer in STYLE_LAYERS:
        difference = gram(features[layer]) - targets.grams[layer]
        total = total + difference.pow(2).mean() / targets.gram_scales[layer]
    return total / len(STYLE_LAYERS)


def total_variation(image: Any) -> Any:
    down = (image[:, :, 1:, :] - image[:, :, :-1, :]).pow(2).mean()
    across = (image[:, :, :, 1:] - image[:, :, :, :-1]).pow(2).mean()
    return down + across
