"""Reference edit jobs: the ``Mimic`` work's stored JSON, the engine request built from it,
the reference stage storing its images, and its echo."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from bot.errors import UserError
from bot.fetch import FetchLimits
from bot.jobs.mimic import LABEL, mimic_prompt, mimic_spec
from bot.jobs.references import SAME_MIMIC_IMAGES, ReferenceFetcher
from bot.jobs.spec import JobSpec, Mimic, PromptSettings, ReferenceSpec, Role, SourceImage
from bot.jobs.work import StoredFile
from db import ImageStore
from engine.request import Operation, grid_seeds

JOB = "11111111-2222-3333-4444-555555555555"
FILE = StoredFile("images/aa/bb/aabb.png", "aabb" * 16)
MASK = ReferenceSpec(Role.IMAGE, url="https://cdn.x/mask.png", upload=True, size=99)
REFERENCE = ReferenceSpec(Role.IMAGE, url="https://e.x/ref.png")
UPLOAD = ReferenceSpec(Role.IMAGE, url="https://cdn.x/photo.png", upload=True, size=321)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "work",
    [
        Mimic(SourceImage(JOB, 2), MASK, REFERENCE),
        Mimic(UPLOAD, MASK, REFERENCE, keep_shape=True),
        Mimic(
            ReferenceSpec(Role.IMAGE, url="https://e.x/i.png", file=FILE, width=8, height=9),
            ReferenceSpec(Role.IMAGE, url="https://cdn.x/m.png", file=FILE, width=8, height=9),
            ReferenceSpec(Role.IMAGE, url="https://e.x/r.png", file=FILE, width=4, height=5),
        ),
    ],
    ids=["job-image", "pending-uploads", "stored"],
)
def test_mimic_work_round_trips_through_json(work: Mimic) -> None:
    spec = JobSpec(PromptSettings(), (5, 6, 7, 8), work=work)
    again = JobSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert again == spec
    assert again.operation is Operation.MIMIC
    assert spec.to_json()["operation"] == "mimic"


def test_mimic_spec_draws_four_seeds_and_lists_its_pending_images() -> None:
    from_uploads = mimic_spec(UPLOAD, MASK, REFERENCE)
    assert len(from_uploads.seeds) == 4
    assert from_uploads.source is None
    assert [r.url for r in from_uploads.pending_references] == [
        "https://cdn.x/photo.png",
        "https://cdn.x/mask.png",
        "https://e.x/ref.png",
    ]
    from_job = mimic_spec(SourceImage(JOB, 1), MASK, REFERENCE, keep_shape=True, seed=10)
    assert from_job.seeds == grid_seeds(10)
    assert from_job.source == SourceImage(JOB, 1)
    assert len(from_job.pending_references) == 2
    assert mimic_prompt("a.png", "b.png") == "a.png + b.png"
    assert LABEL == "Variations (Reference)"


def test_mimic_request_carries_the_image_mask_reference_and_seeds() -> None:
    image = Image.new("RGBA", (40, 30), "red")
    mask = Image.new("RGB", (40, 30), "white")
    reference = Image.new("RGB", (20, 20), "blue")
    spec = mimic_spec(SourceImage(JOB, 0), MASK, REFERENCE, keep_shape=True, seed=1234)
    request = spec.request(image, mask, reference=reference)
    assert request.operation is Operation.MIMIC
    assert (request.count, request.seeds) == (4, grid_seeds(1234))
    assert request.source is not None
    assert request.source.mode == "RGB"
    assert request.mask is not None
    assert request.mask.mode == "L"
    assert request.mimic is not None
    assert request.mimic.keep_shape is True
    assert request.mimic.reference.size == (20, 20)
    assert spec.request(image, mask, reference=reference, seed=9).resolved_seeds() == grid_seeds(9)
    with pytest.raises(ValueError, match="image, mask and reference"):
        spec.request(image, mask)


async def test_reference_stage_stores_the_three_images_and_refuses_the_same_picture(
    tmp_path: Path,
) -> None:
    uploads = {
        "https://cdn.x/a.png": png(Image.new("RGB", (32, 24), "red")),
        "https://cdn.x/m.png": png(Image.new("L", (32, 24), 255)),
        "https://cdn.x/r.png": png(Image.new("RGB", (16, 16), "blue")),
    }

    async def read_cdn(url: str) -> bytes:
        return uploads[url]

    fetcher = ReferenceFetcher(
        SimpleNamespace(limits=FetchLimits()),  # type: ignore[arg-type]
        ImageStore(tmp_path),
        read_cdn,
    )
    image, mask, reference = (
        ReferenceSpec(Role.IMAGE, url=url, upload=True, size=100) for url in uploads
    )
    spec = await fetcher.resolve(mimic_spec(image, mask, reference, seed=1))
    assert spec.pending_references == ()
    assert isinstance(spec.work, Mimic)
    assert isinstance(spec.work.image, ReferenceSpec)
    assert (spec.work.image.width, spec.work.image.height) == (32, 24)
    assert (spec.work.reference.width, spec.work.reference.height) == (16, 16)
    files = {spec.work.image.file, spec.work.mask.file, spec.work.reference.file}
    assert len(files) == 3
    assert None not in files

    uploads["https://cdn.x/r.png"] = uploads["https://cdn.x/a.png"]
    with pytest.raises(UserError) as refused:
        await fetcher.resolve(mimic_spec(image, mask, reference, seed=1))
    assert (refused.value.title, refused.value.message) == ("Identical images", SAME_MIMIC_IMAGES)
