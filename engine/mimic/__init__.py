"""MimicBrush (Chen et al. 2024): repaint a masked region so that it imitates a reference image.

* ``engine.mimic.unets``: the 13-channel imitative U-Net (:func:`extend_conv_in`) and the
  reference U-Net's pruned keys.
* ``engine.mimic.attention``: the writer/reader attention processors linking the two U-Nets.
* ``engine.mimic.depth``: Depth Anything input and the depth guider (keep shape).
* ``engine.mimic.model``: the :class:`MimicModel` bundle, ``builtin:mimic`` and full-size
  random builds.
* ``engine.mimic.weights``: :func:`load_mimic_model` for the authors' release folder.
* ``engine.mimic.pipeline``: :func:`mimic`, the whole edit (padding, DDIM with guidance,
  blending).
"""

from engine.mimic.attention import ReferenceLink, link_reference_attention
from engine.mimic.model import BUILTIN_MIMIC, MimicModel, builtin_mimic_model, full_size_model
from engine.mimic.pipeline import DEFAULT_GUIDANCE, DEFAULT_STEPS, check_mimic, mimic
from engine.mimic.unets import IMITATIVE_CHANNELS, extend_conv_in
from engine.mimic.weights import load_mimic_model

__all__ = [
    "BUILTIN_MIMIC",
    "DEFAULT_GUIDANCE",
    "DEFAULT_STEPS",
    "IMITATIVE_CHANNELS",
    "MimicModel",
    "ReferenceLink",
    "builtin_mimic_model",
    "check_mimic",
    "extend_conv_in",
    "full_size_model",
    "link_reference_attention",
    "load_mimic_model",
    "mimic",
]
