"""The region editor's web server (aiohttp, inside the bot's process and event loop).

``GET /edit/<token>`` serves the editor page for the image the token names,
``GET /edit/<token>/image`` the image itself, and ``POST /edit/<token>`` takes the mask
(white = repaint, a PNG the size of the image) and the prompt, and queues a region job under
the token's user, whose result is posted in the job's channel. Tampered, expired and used
tokens are refused (403 / 409) with a page or JSON that says why.
"""

from __future__ import annotations

import asyncio
import html
import io
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from PIL import Image, UnidentifiedImageError

from bot.exts.region.web.tokens import EditGrant, TokenError, verify
from db import Database, ImageStore, Job, JobNotFoundError
from db import jobs as repo

__all__ = ["EditorServer", "MaskError", "Submit", "check_mask"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
MAX_UPLOAD = 16 * 1024 * 1024
MAX_PROMPT = 6000
MAX_PARTS = 4
SUBMITTED = "Submitted — see Discord"


Submit = Callable[[EditGrant, Job, Image.Image, str], Awaitable["tuple[int, str] | None"]]
"""Queues the region job of a submission; ``(status, message)`` when it is refused."""


class MaskError(ValueError):
    """A mask that cannot be used; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class _Target:
    grant: EditGrant
    job: Any
    image: Any
    """The image row (path, sha256, width, height)."""


class EditorServer:
    """Serves the editor; :meth:`start` binds ``host:port`` (port 0: any free port)."""

    def __init__(
        self,
        db: Database,
        store: ImageStore,
        secret: bytes,
        host: str,
        port: int,
        *,
        on_submit: Submit,
    ) -> None:
        self.db = db
        self.store = store
        self.on_submit = on_submit
        self.secret = secret
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        app = web.Application(client_max_size=MAX_UPLOAD)
        app.router.add_get("/edit/{token}", self._page)
        app.router.add_get("/edit/{token}/image", self._image)
        app.router.add_post("/edit/{token}", self._submit)
        app.router.add_static("/static/", STATIC, show_index=False)
        self.app = app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # the bound socket tells the real port when 0 was asked
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("region editor listening on http://%s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- routes ------------------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.Response:
        target = await self._target(request)
        if isinstance(target, web.Response):
            return target
        if await self._used(target.grant):
            return _page_error(409, "This edit was already submitted — see Discord.")
        config = {
            "imageUrl": f"/edit/{request.match_info['token']}/image",
            "submitUrl": f"/edit/{request.match_info['token']}",
            "prompt": target.job.prompt,
            "promptEditable": target.grant.remix,
            "width": target.image.width,
            "height": target.image.height,
            "title": "Vary (Region)",
        }
        template = await asyncio.to_thread((STATIC / "editor.html").read_text, "utf-8")
        page = template.replace("{{CONFIG_JSON}}", json.dumps(config).replace("<", "\\u003c"))
        return web.Response(text=page, content_type="text/html", headers=_PRIVATE)

    async def _image(self, request: web.Request) -> web.Response:
        target = await self._target(request)
        if isinstance(target, web.Response):
            return target
        data = await asyncio.to_thread(self.store.read, target.image.path, target.image.sha256)
        content_type = f"image/{target.image.format or 'png'}"
        return web.Response(body=data, content_type=content_type, headers=_PRIVATE)

    async def _submit(self, request: web.Request) -> web.Response:
        target = await self._target(request, as_json=True)
        if isinstance(target, web.Response):
            return target
        if await self._used(target.grant):
            return _json_error(409, "This edit was already submitted — see Discord.")
        try:
            mask_bytes, prompt = await _read_form(request)
            size = (target.image.width, target.image.height)
            mask = await asyncio.to_thread(check_mask, mask_bytes, size)
        except MaskError as error:
            return _json_error(400, str(error))
        except web.HTTPRequestEntityTooLarge:
            return _json_error(413, f"The upload is larger than {MAX_UPLOAD // (1024 * 1024)} MiB.")
        problem = await self.on_submit(target.grant, target.job, mask, prompt)
        if problem is not None:
            status, message = problem
            return _json_error(status, message)
        return web.json_response({"ok": True, "message": SUBMITTED}, headers=_PRIVATE)

    # -- helpers -----------------------------------------------------------------------------

    async def _target(
        self, request: web.Request, *, as_json: bool = False
    ) -> _Target | web.Response:
        fail = _json_error if as_json else _page_error
        try:
            grant = verify(request.match_info["token"], self.secret)
        except TokenError as error:
            return fail(403, f"This editor link cannot be used: {error}.")
        try:
            async with self.db.session() as session:
                job = await repo.get_job(session, grant.job_id, with_images=True)
        except JobNotFoundError:
            return fail(404, "That job no longer exists.")
        image = next((i for i in job.images if i.index == grant.index - 1), None)
        if image is None:
            return fail(404, "That image no longer exists.")
        return _Target(grant, job, image)

    async def _used(self, grant: EditGrant) -> bool:
        try:
            async with self.db.session() as session:
                await repo.get_job(session, grant.region_job_id)
        except JobNotFoundError:
            return False
        return True


_PRIVATE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


async def _read_form(request: web.Request) -> tuple[bytes, str]:
    """The ``mask`` file and ``prompt`` text of a multipart form, size-checked."""
    if request.content_length is not None and request.content_length > MAX_UPLOAD:
        raise MaskError(f"The upload is larger than {MAX_UPLOAD // (1024 * 1024)} MiB.")
    if not request.content_type.startswith("multipart/"):
        raise MaskError("Send the mask as multipart/form-data (fields: mask, prompt).")
    mask: bytes | None = None
    prompt = ""
    reader = await request.multipart()
    parts = 0
    while (part := await reader.next()) is not None:
        parts += 1
        if parts > MAX_PARTS:  # before reading more: a form of many tiny fields stalls nobody
            raise MaskError(f"The form has more than {MAX_PARTS} fields (send: mask, prompt).")
        if not isinstance(part, BodyPartReader):  # nested multipart: not ours
            raise MaskError("Unexpected nested form data.")
        if part.name == "mask":
            mask = bytes(await part.read(decode=False))
        elif part.name == "prompt":
            prompt = await part.text()
            if len(prompt) > MAX_PROMPT:
                raise MaskError(f"The prompt is longer than {MAX_PROMPT} characters.")
    if not mask:
        raise MaskError("No mask was sent: select a region first.")
    return mask, prompt


def check_mask(data: bytes, size: tuple[int, int]) -> Image.Image:
    """The mask as a binary ``L`` image (255 = repaint) of exactly ``size``; :class:`MaskError`
    saying what is wrong (not a PNG, wrong size, empty, everything)."""
    width, height = size
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.size != size:
                raise MaskError(
                    f"The mask is {image.width}×{image.height} pixels but the image is "
                    f"{width}×{height}: it must be exactly the image's size."
                )
            image.load()
            grey = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        if isinstance(error, MaskError):
            raise
        raise MaskError("The mask must be a PNG image (white = repaint, black = keep).") from None
    except Image.DecompressionBombError:
        raise MaskError("The mask has far too many pixels.") from None
    # Transparent pixels count as black (keep): an RGBA drawing on a clear background works.
    alpha = grey.getchannel("A")
    luminance = grey.convert("L")
    black = Image.new("L", size, 0)
    mask = Image.composite(luminance, black, alpha).point(lambda v: 255 if v >= 128 else 0)
    histogram = mask.histogram()
    white = histogram[255]
    if white == 0:
        raise MaskError("The mask is empty: select the part of the image to redraw.")
    if white == width * height:
        raise MaskError("The mask covers the whole image: use Vary (Strong) for that.")
    return mask


def _page_error(status: int, message: str) -> web.Response:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Vary (Region)</title>"
        '<body style="font-family:system-ui,sans-serif;background:#313338;color:#f2f3f5;'
        'padding:2rem;max-width:40rem;margin:auto">'
        f"<h1>Vary (Region)</h1><p>{html.escape(message)}</p></body></html>"
    )
    return web.Response(status=status, text=body, content_type="text/html", headers=_PRIVATE)


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=_PRIVATE)
