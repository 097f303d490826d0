"""Face fusion: a candidate's face repainted in the person's likeness (FaceChain's last step).

The face box, grown by :data:`FACE_MARGIN` on each side, is repainted as a Vary (Region) with
the portrait's prompt and face LoRA, the person's best crop shown through the character
reference (``--cw 0``: IP-Adapter Plus-Face on the face only, where the model has adapters).
Every pixel outside the box stays the candidate's own.
"""

from __future__ import annotations

from PIL import Image

from engine.loras import LoraLibrary, LoraUse
from engine.models import LoadedModel
from engine.operations import render
from engine.portrait.faces import Face
from engine.request import GenerationRequest, Operation, Reference, ReferenceRole, WeightedText

__all__ = ["FACE_MARGIN", "face_mask", "fuse_face"]

FACE_MARGIN = 0.25
"""The repainted box is the face box grown by this share of its size on each side."""


def face_mask(size: tuple[int, int], face: Face) -> Image.Image:
    """White over the grown face box (clipped to the image), black elsewhere."""
    left, top, right, bottom = face.box
    grow = FACE_MARGIN * face.size
    box = (
        max(0, round(left - grow)),
        max(0, round(top - grow)),
        min(size[0], round(right + grow)),
        min(size[1], round(bottom + grow)),
    )
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


def fuse_face(
    model: LoadedModel,
    candidate: Image.Image,
    face: Face,
    reference: Image.Image,
    prompt: str,
    *,
    seed: int,
    loras: LoraLibrary | None = None,
    lora: LoraUse | None = None,
) -> Image.Image:
    """``candidate`` with its face repainted like ``reference`` (the person's best crop)."""
    references: tuple[Reference, ...] = ()
    if model.adapter_source is not None:
        references = (Reference(ReferenceRole.CHARACTER, reference.convert("RGB")),)
    request = GenerationRequest(
        operation=Operation.REGION,
        prompt=(WeightedText(prompt),),
        source=candidate.convert("RGB"),
        mask=face_mask(candidate.size, face),
        seeds=(seed,),
        count=1,
        references=references,
        character_weight=0,
        loras=(lora,) if lora is not None else (),
    )
    return render(model, request, loras=loras).images[0]
