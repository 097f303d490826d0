"""Style transfer jobs: the ``Transfer`` work's stored JSON, the engine request built from it,
the reference stage storing its images, and the checks on its options."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from bot.errors import UserError
from bot.fetch import FetchLimits
from bot.jobs.references import SAME_IMAGES, ReferenceFetcher
from bot.jobs.spec import (
    JobSpec,
    PromptSettings,
    ReferenceSpec,
    Role,
    SourceImage,
    StoredFile,
    Transfer,
)
from bot.jobs.transfer import (
    TransferOptions,
    check_link,
    parse_number,
    short_name,
    transfer_prompt,
    transfer_spec,
)
from db import ImageStore
from engine.request import Operation

JOB = "11111111-2222-3333-4444-555555555555"
FILE = StoredFile("images/aa/bb/aabb.png", "aabb" * 16)
STYLE = ReferenceSpec(Role.STYLE, url="https://e.x/style.png")
UPLOAD = ReferenceSpec(Role.IMAGE, url="https://cdn.x/photo.png", upload=True, size=321)


def png(colour: tuple[int, int, int], size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "work",
    [
        Transfer(SourceImage(JOB, 2), STYLE),
        Transfer(UPLOAD, STYLE, strength=0, size=64, preserve_colors=True, steps=3),
        Transfer(
            ReferenceSpec(Role.IMAGE, url="https://e.x/c.png", file=FILE, width=8, height=9),
            ReferenceSpec(Role.STYLE, url="https://e.x/s.png", file=FILE, width=4, height=5),
            strength=1000,
        ),
    ],
    ids=["job-image", "pending-upload", "stored-links"],
)
def test_transfer_work_round_trips_through_json(work: Transfer) -> None:
    spec = JobSpec.from_json(json.loads(json.dumps(transfer_spec_of(work).to_json())))
    assert spec == transfer_spec_of(work)
    assert spec.operation is Operation.TRANSFER
    assert spec.to_json()["operation"] == "transfer"


def transfer_spec_of(work: Transfer) -> JobSpec:
    return JobSpec(PromptSettings(), (5,), work=work)


def test_transfer_pending_images_and_source() -> None:
    from_job = transfer_spec(SourceImage(JOB, 1), STYLE, TransferOptions(), seed=1)
    assert from_job.source == SourceImage(JOB, 1)
    assert [r.url for r in from_job.pending_references] == ["https://e.x/style.png"]
    from_uploads = transfer_spec(UPLOAD, STYLE, TransferOptions(), seed=1)
    assert from_uploads.source is None
    assert [r.url for r in from_uploads.pending_references] == [
        "https://cdn.x/photo.png",
        "https://e.x/style.png",
    ]


def test_transfer_request_carries_content_style_and_options() -> None:
    content, style = Image.new("RGB", (40, 30), "red"), Image.new("RGB", (20, 20), "blue")
    options = TransferOptions(strength=450, size=96, preserve_colors=True)
    spec = transfer_spec(SourceImage(JOB, 0), STYLE, options, steps=7, seed=1234)
    request = spec.request(content, style=style)
    assert request.operation is Operation.TRANSFER
    assert (request.count, request.seeds, request.source) == (1, (1234,), content)
    assert request.transfer is not None
    transfer = request.transfer
    assert (transfer.style, transfer.strength, transfer.size) == (style, 450, 96)
    assert (transfer.preserve_colors, transfer.steps) == (True, 7)
    assert spec.request(content, style=style, seed=9).resolved_seeds() == (9,)
    with pytest.raises(ValueError, match="content and style"):
        spec.request(content)


async def test_reference_stage_stores_both_images_and_refuses_the_same_picture(
    tmp_path: Path,
) -> None:
    uploads = {"https://cdn.x/a.png": png((200, 0, 0)), "https://cdn.x/b.png": png((0, 0, 200))}

    async def read_cdn(url: str) -> bytes:
        return uploads[url]

    fetcher = ReferenceFetcher(
        SimpleNamespace(limits=FetchLimits()),  # type: ignore[arg-type]
        ImageStore(tmp_path),
        read_cdn,
    )
    content = ReferenceSpec(Role.IMAGE, url="https://cdn.x/a.png", upload=True, size=100)
    style = ReferenceSpec(Role.STYLE, url="https://cdn.x/b.png", upload=True, size=100)
    spec = await fetcher.resolve(transfer_spec(content, style, TransferOptions(), seed=1))
    assert spec.pending_references == ()
    assert isinstance(spec.work, Transfer)
    assert isinstance(spec.work.content, ReferenceSpec)
    assert (spec.work.content.width, spec.work.content.height) == (32, 24)
    assert spec.work.content.file != spec.work.style.file

    uploads["https://cdn.x/b.png"] = uploads["https://cdn.x/a.png"]
    with pytest.raises(UserError) as refused:
        await fetcher.resolve(transfer_spec(content, style, TransferOptions(), seed=1))
    assert (refused.value.title, refused.value.message) == ("Identical images", SAME_IMAGES)


def test_transfer_checks_name_the_input() -> None:
    with pytest.raises(UserError, match=r"^strength must be 0–1000 \(got 1001\)\.$"):
        TransferOptions(strength=1001).check()
    with pytest.raises(UserError, match=r"^size must be 64–2048 \(got 32\)\.$"):
        TransferOptions(size=32).check()
    with pytest.raises(UserError, match=r"^strength must be a whole number \(got 'lots'\)\.$"):
        parse_number("strength", "lots", (0, 1000))
    with pytest.raises(UserError, match=r"^style is not a link: 'ftp://x/y\.png'$"):
        check_link("style", "ftp://x/y.png")
    assert TransferOptions(strength=0, size=2048).check().size == 2048
    assert check_link("style", " https://x/y.png ") == "https://x/y.png"


def test_transfer_prompt_shortens_each_name_in_the_middle() -> None:
    link = "https://images.example.com/" + "deep/" * 20 + "starry-night.jpg"
    echo = transfer_prompt("photo.png", link)
    content, style = echo.split(" + ")
    assert content == "photo.png"
    assert len(style) == 60
    assert style.startswith("https://images.exam")
    assert style.endswith("/starry-night.jpg")
    assert "…" in style
    assert short_name("a   b") == "a b"
