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
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image

from bot.exts.region.web.form import (
    MAX_UPLOAD,
    EditorForm,
    FormError,
    MaskError,
    check_mask,
    read_form,
)
from bot.exts.region.web.tokens import EditGrant, TokenError, verify
from db import Database, ImageStore, Job, JobNotFoundError
from db import jobs as repo

__all__ = ["EditorServer", "MaskError", "Submit", "check_mask"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
SUBMITTED = "Submitted — see Discord"
GALLERY_SIZE = 24
"""How many of the user's recent images Vary (Reference) offers to pick from."""


Submit = Callable[[EditGrant, Job, Image.Image, EditorForm], Awaitable["tuple[int, str] | None"]]
"""Queues the job of a submission (its mask already checked); ``(status, message)`` when it is
refused."""


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
        app.router.add_get("/edit/{token}/gallery", self._gallery)
        app.router.add_get("/edit/{token}/gallery/{job_id}/{index:\\d{1,2}}", self._gallery_image)
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
        token = request.match_info["token"]
        reference, background = target.grant.reference, target.grant.background
        config = {
            "imageUrl": f"/edit/{token}/image",
            "submitUrl": f"/edit/{token}",
            "prompt": target.job.prompt,
            "promptEditable": background or (target.grant.remix and not reference),
            "width": target.image.width,
            "height": target.image.height,
            "title": target.grant.button,
            "background": background,
            "reference": reference,
            "galleryUrl": f"/edit/{token}/gallery" if reference else None,
            "presetPick": _preset(target.grant),
            "keepShape": target.grant.keep_shape,
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
            form = await read_form(request)
            size = (target.image.width, target.image.height)
            mask = await asyncio.to_thread(check_mask, form.mask, size)
        except FormError as error:
            return _json_error(400, str(error))
        except web.HTTPRequestEntityTooLarge:
            return _json_error(413, f"The upload is larger than {MAX_UPLOAD // (1024 * 1024)} MiB.")
        problem = await self.on_submit(target.grant, target.job, mask, form)
        if problem is not None:
            status, message = problem
            return _json_error(status, message)
        return web.json_response({"ok": True, "message": SUBMITTED}, headers=_PRIVATE)

    async def _gallery(self, request: web.Request) -> web.Response:
        """Vary (Reference): the user's recent images to pick a reference from (JSON)."""
        target = await self._target(request, as_json=True)
        if isinstance(target, web.Response):
            return target
        if not target.grant.reference:
            return _json_error(404, "This link edits a region with a prompt, not a reference.")
        async with self.db.read() as session:
            rows = await repo.recent_images(session, target.grant.user_id, limit=GALLERY_SIZE + 1)
        token = request.match_info["token"]
        edited = (target.grant.job_id, target.grant.index - 1)
        images = [
            {
                "id": f"{job.id}/{image.index}",
                "url": f"/edit/{token}/gallery/{job.id}/{image.index}",
                "label": f"{_shorten(job.prompt)} — image #{image.index + 1}",
            }
            for job, image in rows
            if (job.id, image.index) != edited
        ][:GALLERY_SIZE]
        return web.json_response({"images": images}, headers=_PRIVATE)

    async def _gallery_image(self, request: web.Request) -> web.Response:
        target = await self._target(request)
        if isinstance(target, web.Response):
            return target
        job_id, index = request.match_info["job_id"], int(request.match_info["index"])
        try:
            async with self.db.read() as session:
                job = await repo.get_job(session, job_id, with_images=True)
        except JobNotFoundError:
            return _page_error(404, "That image no longer exists.")
        image = next((i for i in job.images if i.index == index), None)
        if not target.grant.reference or job.user_id != target.grant.user_id or image is None:
            return _page_error(404, "That image is not one of yours.")
        data = await asyncio.to_thread(self.store.read, image.path, image.sha256)
        return web.Response(
            body=data, content_type=f"image/{image.format or 'png'}", headers=_PRIVATE
        )

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


def _preset(grant: EditGrant) -> str | None:
    """The gallery id of the reference the link offers (``/mimic`` without a mask)."""
    return f"{grant.job_id}/{grant.preset}" if grant.preset is not None else None


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
