"""The structure of a picture, for Retexture and Change Background.

* ``engine.structure.maps``: ControlNet inputs that keep a picture's structure — Canny
  edges, line art, depth (:class:`DepthEstimator`) — chosen by :class:`Structure`.
* ``engine.structure.segment``: the subject of a picture (:class:`GrabCutSegmenter`, a
  transformers model, or none: the user's mask) and :func:`paste_subject`, which puts the
  subject back exactly over a repainted picture.
* ``engine.structure.sources``: how a model setting (Hub id, folder, ``builtin:tiny``) is
  read, shared by both.

Importing this package does not import torch or transformers; models load on first use.
"""

from engine.structure.maps import (
    DEFAULT_DEPTH_MODEL,
    DepthEstimator,
    Structure,
    control_image,
    depth_map,
    edge_map,
    sketch_map,
)
from engine.structure.segment import (
    GrabCutSegmenter,
    Segmenter,
    TransformersSegmenter,
    load_segmenter,
    paste_subject,
    seam_band,
    subject_mask,
)
from engine.structure.sources import BUILTIN_TINY

__all__ = [
    "BUILTIN_TINY",
    "DEFAULT_DEPTH_MODEL",
    "DepthEstimator",
    "GrabCutSegmenter",
    "Segmenter",
    "Structure",
    "TransformersSegmenter",
    "control_image",
    "depth_map",
    "edge_map",
    "load_segmenter",
    "paste_subject",
    "seam_band",
    "sketch_map",
    "subject_mask",
]
