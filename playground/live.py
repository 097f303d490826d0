"""What the web page sees: messages as the Discord client shows them, and the live feed that
pushes every change to open pages over a WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from playground import payloads
from playground.models import JSON, InteractionRecord, Message, Violation
from playground.world import World

log = logging.getLogger(__name__)

NOTICES_KEPT = 100
MODAL = 9


def message_view(world: World, msg: Message) -> JSON:
    """The REST message plus what only a client knows: who may see an ephemeral message, whether
    it is still "thinking", which command it answers and who reacted with what."""
    data = payloads.message(world, msg)
    for att in data["attachments"]:
        # Relative, so the page works whatever address a browser reaches the server by.
        att["url"] = att["proxy_url"] = _relative(world, att["url"])
    data["ephemeral_for"] = (
        (msg.interaction_metadata or {}).get("user", {}).get("id") if msg.ephemeral else None
    )
    data["loading"] = msg.loading
    data["command"] = msg.command
    data["reacted"] = {emoji: [str(u) for u in users] for emoji, users in msg.reactions.items()}
    return data


def _relative(world: World, url: str) -> str:
    return url[len(world.http_base) :] if url.startswith(world.http_base) else url


def interaction_view(rec: InteractionRecord) -> JSON:
    data: JSON = {
        "id": str(rec.id),
        "type": rec.type,
        "user_id": str(rec.user_id),
        "channel_id": str(rec.channel_id),
        "acknowledged": rec.acknowledged,
        "response_type": rec.response_type,
        "failed": rec.deadline_flagged and not rec.acknowledged,
        "message_id": str(rec.original_message_id) if rec.original_message_id else None,
    }
    if rec.response_type == MODAL and rec.modal is not None:
        data["modal"] = rec.modal
    return data


def notice_view(violation: Violation) -> JSON:
    return {
        "kind": violation.kind,
        "message": violation.message.splitlines()[0][:500] if violation.message else "",
        "channel_id": str(violation.channel_id) if violation.channel_id else None,
        "method": violation.method,
        "path": violation.path,
        "status": violation.status,
        "code": violation.code,
        "at": violation.at.isoformat(),
    }


@dataclass(slots=True, eq=False)
class _Page:
    ws: web.WebSocketResponse
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


class LiveFeed:
    """Open pages, each with its own ordered outbox; every world change is serialised once."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.pages: set[_Page] = set()
        self.notices: list[JSON] = []
        self.announced: set[int] = set()
        world.listen(self._on_change)

    def _on_change(self, kind: str, subject: object) -> None:
        event = self._event(kind, subject)
        if event is None:
            return
        if event["t"] == "notice":
            self.notices = [*self.notices[-(NOTICES_KEPT - 1) :], event["d"]]
        if not self.pages:
            return
        text = json.dumps(event, separators=(",", ":"))
        for page in self.pages:
            page.outbox.put_nowait(text)

    def _event(self, kind: str, subject: object) -> JSON | None:
        if isinstance(subject, Message):
            if subject.deleted:
                ids = {"id": str(subject.id), "channel_id": str(subject.channel_id)}
                return {"t": "message_delete", "d": ids}
            # Only a new message makes its channel unread, not an edit or a reaction.
            new = subject.id not in self.announced
            self.announced.add(subject.id)
            return {"t": "message", "d": message_view(self.world, subject), "new": new}
        if isinstance(subject, InteractionRecord):
            return {"t": "interaction", "d": interaction_view(subject)}
        if isinstance(subject, Violation):
            return {"t": "notice", "d": notice_view(subject)}
        if kind == "presence":
            return {"t": "presence", "d": {"connected": bool(subject)}}
        if kind in ("commands", "channel", "guild", "user"):
            return {"t": "world", "d": {"kind": kind}}
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=30.0)
        await ws.prepare(request)
        page = _Page(ws)
        self.pages.add(page)
        writer = asyncio.create_task(self._write(page))
        try:
            async for msg in ws:  # the page only listens; anything it sends is ignored
                if msg.type is WSMsgType.ERROR:
                    break
        finally:
            self.pages.discard(page)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _write(self, page: _Page) -> None:
        while True:
            text = await page.outbox.get()
            try:
                await page.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def close(self) -> None:
        for page in list(self.pages):
            await page.ws.close()
