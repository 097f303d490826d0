"""Vary (Reference): an editor submission with a reference becomes a reference edit of the
job's image (MimicBrush, ``Operation.MIMIC``).

The reference is one of three: an uploaded file (checked and stored now: a bomb or a damaged
file is refused before anything is queued), a link (checked as a link now and fetched when the
job launches, like ``/mimic``'s), or one of the user's own images (only theirs). The mask is
stored as it was checked.
"""

from __future__ import annotations

import asyncio

from PIL import Image

from bot.deps import Deps
from bot.exts.region.web.form import (
    EditorForm,
    LinkedReference,
    PickedReference,
    ReferenceChoice,
    UploadedReference,
)
from bot.exts.region.web.tokens import EditGrant
from bot.fetch import FetchError, check_image_bytes
from bot.jobs import children
from bot.jobs.records import JobView
from bot.jobs.spec import ReferenceSpec, Role, StoredFile
from bot.jobs.transfer import short_name
from db import JobNotFoundError
from db import jobs as repo
from engine.grid import encode_png

__all__ = ["NO_REFERENCE", "reference_job"]

NO_REFERENCE = (
    "Choose a reference to imitate: upload an image, paste a link, or pick one of your images."
)
NOT_YOURS = "The picked image is not one of yours (or no longer exists); pick another."


async def reference_job(
    deps: Deps, grant: EditGrant, parent: JobView, mask: Image.Image, form: EditorForm
) -> children.Child | tuple[int, str]:
    """The Vary (Reference) child of a submission, or ``(status, message)`` refusing it."""
    if form.reference is None:
        return 400, NO_REFERENCE
    wanted = await _reference(deps, grant.user_id, form.reference)
    if isinstance(wanted, tuple):
        return wanted
    stored = await asyncio.to_thread(lambda: deps.store.put(encode_png(mask), "png"))
    region = ReferenceSpec(
        Role.IMAGE,
        url="mask.png",
        file=StoredFile(stored.path, stored.sha256),
        width=mask.width,
        height=mask.height,
    )
    index = grant.index - 1
    return children.reference(parent, index, region, wanted, keep_shape=form.keep_shape)


async def _reference(
    deps: Deps, user_id: int, choice: ReferenceChoice
) -> ReferenceSpec | tuple[int, str]:
    if isinstance(choice, LinkedReference):
        return ReferenceSpec(Role.IMAGE, url=choice.url)
    if isinstance(choice, PickedReference):
        return await _picked(deps, user_id, choice)
    return await _uploaded(deps, choice)


async def _uploaded(deps: Deps, upload: UploadedReference) -> ReferenceSpec | tuple[int, str]:
    name = short_name(upload.filename)
    try:
        format_, width, height = await asyncio.to_thread(
            check_image_bytes, upload.data, deps.fetcher.limits, url=name
        )
    except FetchError as error:
        reason = error.reason if error.reason.startswith("is ") else f"is {error.reason}"
        return 400, f"The reference {name} {reason}."
    stored = await asyncio.to_thread(deps.store.put, upload.data, format_)
    file = StoredFile(stored.path, stored.sha256)
    return ReferenceSpec(Role.IMAGE, url=name, file=file, width=width, height=height)


async def _picked(
    deps: Deps, user_id: int, picked: PickedReference
) -> ReferenceSpec | tuple[int, str]:
    try:
        async with deps.db.read() as session:
            job = await repo.get_job(session, picked.job_id, with_images=True)
    except JobNotFoundError:
        return 400, NOT_YOURS
    image = next((i for i in job.images if i.index == picked.index), None)
    if job.user_id != user_id or image is None:
        return 400, NOT_YOURS
    return ReferenceSpec(
        Role.IMAGE,
        url=f"image #{picked.index + 1} of job {job.id[:8]}",
        file=StoredFile(image.path, image.sha256),
        width=image.width,
        height=image.height,
    )
