"""Neural style transfer (Gatys, Ecker & Bethge 2015): ``Operation.TRANSFER`` without a
diffusion model.

* ``engine.transfer.losses``: the layers, weights and normalisations (documented there).
* ``engine.transfer.backbone``: VGG19's feature network, its weights (``MJ_VGG19``) or the
  built-in random-filter network, cached per device; :func:`describe_backbone` for the
  start-up line.
* ``engine.transfer.optimize``: the coarse-to-fine L-BFGS/Adam loop.
* ``engine.transfer.operation``: :func:`transfer`, a request → a :class:`GenerationResult`.
"""

from engine.transfer.backbone import (
    Backbone,
    BackboneRegistry,
    describe_backbone,
    load_backbone,
    random_backbone,
)
from engine.transfer.operation import check_transfer, transfer

__all__ = [
    "Backbone",
    "BackboneRegistry",
    "check_transfer",
    "describe_backbone",
    "load_backbone",
    "random_backbone",
    "transfer",
]
