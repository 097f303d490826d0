"""The stored JSON of a job's work — the layout every version has written: ``operation``,
``source``, ``strength``, ``mask``, ``outpaint``; a style transfer adds ``transfer``, a
reference edit ``mimic``, a face training ``training``, portraits ``portrait``, a retexture
``retexture``, a background change ``background``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.jobs.work import (
    Background,
    FaceTraining,
    Imagine,
    Mimic,
    Outpaint,
    Portraits,
    ReferenceSpec,
    Region,
    Retexture,
    SourceImage,
    StoredFile,
    Transfer,
    Upscale,
    Variation,
    Work,
    pair,
)
from engine.request import Operation, PanDirection, Strength, StructureKind

__all__ = ["work_from_json", "work_to_json"]


def work_to_json(work: Work) -> dict[str, Any]:
    out: dict[str, Any] = {"operation": str(work.operation)}
    if isinstance(work, Imagine):
        return out
    if isinstance(work, Transfer):
        return {**out, "transfer": _transfer_to_json(work)}
    if isinstance(work, Mimic):
        return {**out, "mimic": _mimic_to_json(work)}
    if isinstance(work, FaceTraining):
        photos = [photo.to_json() for photo in work.photos]
        training = {"owner": work.owner, "name": work.name, "photos": photos, "steps": work.steps}
        return {**out, "training": training}
    if isinstance(work, Portraits):
        return {**out, "portrait": {"owner": work.owner, "name": work.name, "style": work.style}}
    if isinstance(work, Retexture):
        retexture = {
            "image": _image_to_json(work.image),
            "structure": str(work.structure),
            "strength": work.strength,
        }
        return {**out, "retexture": retexture}
    if isinstance(work, Background):
        subject = work.subject.to_json() if work.subject is not None else None
        return {**out, "background": {"image": _image_to_json(work.image), "subject": subject}}
    out["source"] = {"job": work.source.job_id, "index": work.source.index}
    if isinstance(work, Variation | Upscale):
        out["strength"] = str(work.strength)
    elif isinstance(work, Region):
        out["mask"] = work.mask.to_json()
    else:
        out["outpaint"] = {
            "zoom": work.zoom,
            "pan": str(work.pan) if work.pan else None,
            "make_square": work.make_square,
            "aspect": list(work.aspect) if work.aspect else None,
        }
    return out


def work_from_json(data: Mapping[str, Any]) -> Work:
    operation = Operation(data.get("operation", Operation.IMAGINE))
    if operation is Operation.IMAGINE:
        return Imagine()
    if operation is Operation.TRANSFER:
        return _transfer_from_json(data["transfer"])
    if operation is Operation.MIMIC:
        return _mimic_from_json(data["mimic"])
    if operation is Operation.FACE_TRAINING:
        training = data["training"]
        return FaceTraining(
            owner=int(training["owner"]),
            name=str(training["name"]),
            photos=tuple(StoredFile(p["path"], p["sha256"]) for p in training["photos"]),
            steps=int(training["steps"]) if training.get("steps") is not None else None,
        )
    if operation is Operation.RETEXTURE:
        retexture = data["retexture"]
        return Retexture(
            _image_from_json(retexture["image"]),
            StructureKind(retexture.get("structure", StructureKind.EDGES)),
            int(retexture.get("strength", 50)),
        )
    if operation is Operation.BACKGROUND:
        background = data["background"]
        subject = background.get("subject")
        return Background(
            _image_from_json(background["image"]),
            ReferenceSpec.from_json(subject) if subject else None,
        )
    if operation is Operation.PORTRAIT:
        portrait = data["portrait"]
        style = portrait.get("style")
        return Portraits(int(portrait["owner"]), str(portrait["name"]), style and str(style))
    source = _source_from_json(data["source"])
    if operation is Operation.VARIATION:
        return Variation(source, Strength(data.get("strength", Strength.STRONG)))
    if operation is Operation.UPSCALE:
        return Upscale(source, Strength(data.get("strength", Strength.STRONG)))
    if operation is Operation.REGION:
        return Region(source, StoredFile(data["mask"]["path"], data["mask"]["sha256"]))
    outpaint = data.get("outpaint") or {}
    return Outpaint(
        source,
        zoom=float(outpaint.get("zoom") or 1.0),
        pan=PanDirection(outpaint["pan"]) if outpaint.get("pan") else None,
        make_square=bool(outpaint.get("make_square", False)),
        aspect=pair(outpaint["aspect"]) if outpaint.get("aspect") else None,
    )


def _source_from_json(data: Mapping[str, Any]) -> SourceImage:
    return SourceImage(str(data["job"]), int(data["index"]))


def _image_to_json(image: SourceImage | ReferenceSpec) -> dict[str, Any]:
    if isinstance(image, SourceImage):
        return {"job": image.job_id, "index": image.index}
    return image.to_json()


def _image_from_json(data: Mapping[str, Any]) -> SourceImage | ReferenceSpec:
    return _source_from_json(data) if "job" in data else ReferenceSpec.from_json(data)


def _transfer_to_json(work: Transfer) -> dict[str, Any]:
    return {
        "content": _image_to_json(work.content),
        "style": work.style.to_json(),
        "strength": work.strength,
        "size": work.size,
        "preserve_colors": work.preserve_colors,
        "steps": work.steps,
    }


def _transfer_from_json(data: Mapping[str, Any]) -> Transfer:
    return Transfer(
        content=_image_from_json(data["content"]),
        style=ReferenceSpec.from_json(data["style"]),
        strength=int(data.get("strength", 100)),
        size=int(data["size"]) if data.get("size") is not None else None,
        preserve_colors=bool(data.get("preserve_colors", False)),
        steps=int(data["steps"]) if data.get("steps") is not None else None,
    )


def _mimic_to_json(work: Mimic) -> dict[str, Any]:
    return {
        "image": _image_to_json(work.image),
        "mask": work.mask.to_json(),
        "reference": work.reference.to_json(),
        "keep_shape": work.keep_shape,
    }


def _mimic_from_json(data: Mapping[str, Any]) -> Mimic:
    return Mimic(
        image=_image_from_json(data["image"]),
        mask=ReferenceSpec.from_json(data["mask"]),
        reference=ReferenceSpec.from_json(data["reference"]),
        keep_shape=bool(data.get("keep_shape", False)),
    )
