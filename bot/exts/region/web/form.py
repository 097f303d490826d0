"""What an editor submission carries, read and checked: the mask (a PNG the image's size,
white = repaint), the prompt, and for Vary (Reference) the reference — an uploaded file, a
link, or one of the user's own images — and the keep-shape switch.

Every refusal is a :class:`FormError` whose message says what to fix; nothing is queued.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from aiohttp import BodyPartReader, web
from PIL import Image, UnidentifiedImageError

__all__ = [
    "MAX_PROMPT",
    "MAX_UPLOAD",
    "EditorForm",
    "FormError",
    "LinkedReference",
    "MaskError",
    "PickedReference",
    "ReferenceChoice",
    "UploadedReference",
    "check_mask",
    "read_form",
]

MAX_UPLOAD = 16 * 1024 * 1024
MAX_PROMPT = 6000
MAX_LINK = 2000
MAX_PARTS = 7
FIELDS = "mask, prompt, reference, reference_url, reference_pick, keep_shape"


class FormError(ValueError):
    """A submission that cannot be used; the message says what to fix."""


MaskError = FormError
"""The name the mask's refusals have always had."""


@dataclass(frozen=True, slots=True)
class UploadedReference:
    data: bytes
    filename: str


@dataclass(frozen=True, slots=True)
class LinkedReference:
    url: str


@dataclass(frozen=True, slots=True)
class PickedReference:
    """Image ``index`` (0-based) of the user's job ``job_id``."""

    job_id: str
    index: int


ReferenceChoice = UploadedReference | LinkedReference | PickedReference


@dataclass(frozen=True, slots=True)
class EditorForm:
    mask: bytes
    prompt: str = ""
    reference: ReferenceChoice | None = None
    keep_shape: bool = False


async def read_form(request: web.Request) -> EditorForm:
    """The multipart form of a submission, size-checked; the mask is not decoded yet."""
    if request.content_length is not None and request.content_length > MAX_UPLOAD:
        raise FormError(f"The upload is larger than {MAX_UPLOAD // (1024 * 1024)} MiB.")
    if not request.content_type.startswith("multipart/"):
        raise FormError(f"Send the edit as multipart/form-data (fields: {FIELDS}).")
    mask: bytes | None = None
    prompt = ""
    choices: list[ReferenceChoice] = []
    keep_shape = False
    reader = await request.multipart()
    parts = 0
    while (part := await reader.next()) is not None:
        parts += 1
        if parts > MAX_PARTS:  # before reading more: a form of many tiny fields stalls nobody
            raise FormError(f"The form has more than {MAX_PARTS} fields (send: {FIELDS}).")
        if not isinstance(part, BodyPartReader):  # nested multipart: not ours
            raise FormError("Unexpected nested form data.")
        if part.name == "mask":
            mask = bytes(await part.read(decode=False))
        elif part.name == "prompt":
            prompt = await _text(part, MAX_PROMPT, "The prompt")
        elif part.name == "reference":
            data = bytes(await part.read(decode=False))
            if data:
                choices.append(UploadedReference(data, part.filename or "reference"))
        elif part.name == "reference_url":
            if url := (await _text(part, MAX_LINK, "The reference link")).strip():
                choices.append(LinkedReference(_check_link(url)))
        elif part.name == "reference_pick":
            if picked := (await _text(part, 200, "The picked image")).strip():
                choices.append(_parse_pick(picked))
        elif part.name == "keep_shape":
            keep_shape = (await _text(part, 10, "keep_shape")).strip().lower() in (
                "1",
                "true",
                "on",
            )
    if not mask:
        raise FormError("No mask was sent: select a region first.")
    if len(choices) > 1:
        raise FormError("Give one reference: an upload, a link or one of your images, not several.")
    return EditorForm(mask, prompt, choices[0] if choices else None, keep_shape)


async def _text(part: BodyPartReader, limit: int, what: str) -> str:
    text = await part.text()
    if len(text) > limit:
        raise FormError(f"{what} is longer than {limit} characters.")
    return text


def _check_link(url: str) -> str:
    if not url.lower().startswith(("http://", "https://")) or any(c.isspace() for c in url):
        shown = url if len(url) <= 100 else url[:99] + "…"
        raise FormError(f"The reference link is not a web link (http:// or https://): {shown}")
    return url


def _parse_pick(text: str) -> PickedReference:
    job_id, slash, index = text.rpartition("/")
    if not slash or not job_id or not index.isdigit() or len(index) > 2:
        raise FormError("The picked image is not one of your images; pick it again.")
    return PickedReference(job_id, int(index))


def check_mask(data: bytes, size: tuple[int, int]) -> Image.Image:
    """The mask as a binary ``L`` image (255 = repaint) of exactly ``size``; :class:`FormError`
    saying what is wrong (not a PNG, wrong size, empty, everything)."""
    width, height = size
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.size != size:
                raise FormError(
                    f"The mask is {image.width}×{image.height} pixels but the image is "
                    f"{width}×{height}: it must be exactly the image's size."
                )
            image.load()
            grey = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        if isinstance(error, FormError):
            raise
        raise FormError("The mask must be a PNG image (white = repaint, black = keep).") from None
    except Image.DecompressionBombError:
        raise FormError("The mask has far too many pixels.") from None
    # Transparent pixels count as black (keep): an RGBA drawing on a clear background works.
    alpha = grey.getchannel("A")
    luminance = grey.convert("L")
    black = Image.new("L", size, 0)
    mask = Image.composite(luminance, black, alpha).point(lambda v: 255 if v >= 128 else 0)
    histogram = mask.histogram()
    white = histogram[255]
    if white == 0:
        raise FormError("The mask is empty: select the part of the image to redraw.")
    if white == width * height:
        raise FormError("The mask covers the whole image: use Vary (Strong) for that.")
    return mask
