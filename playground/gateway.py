"""The gateway WebSocket: HELLO, IDENTIFY/READY, RESUME, heartbeats, chunks, dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import traceback
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from playground import payloads
from playground.errors import EmulatorError
from playground.models import JSON, Frame
from playground.world import World

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE, RESUME, RECONNECT = 0, 1, 2, 3, 4, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)
HEARTBEAT_INTERVAL_MS = 41250
REPLAY_BUFFER = 1000


@dataclass(slots=True)
class _Close:
    code: int
    reason: str


@dataclass(slots=True, eq=False)
class Connection:
    """One WebSocket; frames go out through a queue so their order is the order of `send`."""

    ws: web.WebSocketResponse
    outbox: asyncio.Queue[str | _Close] = field(default_factory=asyncio.Queue)
    session: Session | None = None
    ready: bool = False


@dataclass(slots=True, eq=False)
class Session:
    id: str
    identify: JSON
    seq: int = 0
    sent: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))
    connection: Connection | None = None


class Gateway:
    """Sessions survive their connections, so RESUME replays what a dropped socket missed."""

    def __init__(self, world: World, *, privileged_intents: int = PRIVILEGED_INTENTS) -> None:
        self.world = world
        self.privileged_intents = privileged_intents
        self.sessions: dict[str, Session] = {}
        self.current: Session | None = None
        self.connections: set[Connection] = set()
        self.identifies: list[JSON] = []
        world.set_dispatcher(self.dispatch)

    @property
    def connected(self) -> bool:
        conn = self.current.connection if self.current else None
        return conn is not None and conn.ready and not conn.ws.closed

    # -- sending ------------------------------------------------------------------------------

    def dispatch(self, event: str, data: JSON) -> None:
        """Sequence an event on the current session; sent now, or replayed on RESUME."""
        session = self.current
        if session is None:
            return
        session.seq += 1
        frame = {"op": DISPATCH, "d": data, "s": session.seq, "t": event}
        text = json.dumps(frame)
        session.sent.append((session.seq, text))
        if session.connection is not None:
            session.connection.outbox.put_nowait(text)

    def send_op(self, op: int, d: Any = None) -> None:
        conn = self._live_connection()
        conn.outbox.put_nowait(json.dumps({"op": op, "d": d, "s": None, "t": None}))

    def close(self, code: int, reason: str = "") -> None:
        self._live_connection().outbox.put_nowait(_Close(code, reason))

    def _live_connection(self) -> Connection:
        conn = self.current.connection if self.current else None
        if conn is None or conn.ws.closed:
            raise EmulatorError("no bot is connected to the gateway")
        return conn

    @staticmethod
    def _send(conn: Connection, op: int, d: Any) -> None:
        conn.outbox.put_nowait(json.dumps({"op": op, "d": d, "s": None, "t": None}))

    async def _writer(self, conn: Connection) -> None:
        while True:
            item = await conn.outbox.get()
            if isinstance(item, _Close):
                await conn.ws.close(code=item.code, message=item.reason.encode())
                return
            try:
                await conn.ws.send_str(item)
            except (ConnectionError, RuntimeError):
                return
            self._record("out", json.loads(item), conn)

    def _record(self, direction: str, frame: JSON, conn: Connection) -> None:
        session_id = conn.session.id if conn.session else None
        self.world.record_frame(
            Frame(
                direction=direction,
                op=frame.get("op", -1),
                t=frame.get("t"),
                s=frame.get("s"),
                d=frame.get("d"),
                session_id=session_id,
            )
        )

    # -- receiving ----------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(status=400, text="the gateway only speaks WebSocket")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws=ws)
        self.connections.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        self._send(conn, HELLO, {"heartbeat_interval": HEARTBEAT_INTERVAL_MS})
        try:
            await self._receive(conn)
        except Exception as exc:  # an emulator bug must close the socket loudly, not hang
            log.exception("discord emulator gateway failed")
            detail = "".join(traceback.format_exception(exc))
            self.world.violation("emulator_error", detail, path="/gateway", status=1011)
            await ws.close(code=1011, message=b"emulator error")
        finally:
            self._detach(conn)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _receive(self, conn: Connection) -> None:
        async for msg in conn.ws:
            if msg.type is not WSMsgType.TEXT:
                self._violation(conn, "gateway_frame", f"unexpected {msg.type.name} frame")
                continue
            try:
                frame = json.loads(msg.data)
            except ValueError:
                self._violation(conn, "gateway_frame", "a frame that is not JSON", 4002)
                continue
            self._record("in", frame, conn)
            self._on_frame(conn, frame)

    def _detach(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if conn.session is not None and conn.session.connection is conn:
            conn.session.connection = None
        self.world.emit("presence", self.connected)

    def _violation(self, conn: Connection, kind: str, message: str, code: int = 0) -> None:
        self.world.violation(kind, f"gateway: {message}", path="/gateway", code=code)
        if code:
            conn.outbox.put_nowait(_Close(code, message))

    def _on_frame(self, conn: Connection, frame: JSON) -> None:
        op, d = frame.get("op"), frame.get("d")
        if op == HEARTBEAT:
            conn.outbox.put_nowait(json.dumps({"op": HEARTBEAT_ACK, "d": None}))
        elif op == IDENTIFY:
            self._identify(conn, d or {})
        elif op == RESUME:
            self._resume(conn, d or {})
        elif conn.session is None:
            self._violation(conn, "gateway_order", f"op {op} before IDENTIFY", 4003)
        elif op == REQUEST_MEMBERS:
            self._members_chunk(conn, d or {})
        elif op not in (PRESENCE, VOICE):
            self._violation(conn, "gateway_opcode", f"unknown opcode {op}", 4001)

    def _identify(self, conn: Connection, d: JSON) -> None:
        if conn.session is not None:
            self._violation(conn, "gateway_order", "IDENTIFY twice on one connection", 4005)
            return
        if d.get("token") != self.world.token:
            self._violation(conn, "bad_token", "IDENTIFY with a wrong token", 4004)
            return
        intents = int(d.get("intents") or 0)
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            self._violation(conn, "privileged_intents", f"intents {intents} not enabled", 4014)
            return
        self.identifies.append(d)
        self.world.intents = intents
        session = Session(id=uuid.uuid4().hex, identify=d)
        self.sessions[session.id] = session
        self.current = session
        self._attach(conn, session)
        ready: JSON = {
            "v": 10,
            "user": payloads.self_user(self.world.bot_user),
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.world.gateway_url,
            "guilds": [{"id": str(g), "unavailable": True} for g in self.world.guilds],
            "application": {"id": str(self.world.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
        }
        if "shard" in d:
            ready["shard"] = d["shard"]
        self.dispatch("READY", ready)
        for guild in self.world.guilds.values():
            self.dispatch("GUILD_CREATE", payloads.guild(self.world, guild))
        conn.ready = True
        self.world.emit("presence", True)

    def _resume(self, conn: Connection, d: JSON) -> None:
        if d.get("token") != self.world.token:
            self._violation(conn, "bad_token", "RESUME with a wrong token", 4004)
            return
        session = self.sessions.get(str(d.get("session_id")))
        if session is None or session is not self.current:
            # Not resumable: the client clears its session and IDENTIFYs after 1-5 s.
            self._send(conn, INVALID_SESSION, False)
            return
        self._attach(conn, session)
        last_seen = int(d.get("seq") or 0)
        for seq, text in list(session.sent):
            if seq > last_seen:
                conn.outbox.put_nowait(text)
        self.dispatch("RESUMED", {})
        conn.ready = True
        self.world.emit("presence", True)

    def _attach(self, conn: Connection, session: Session) -> None:
        old = session.connection
        if old is not None and old is not conn and not old.ws.closed:
            old.outbox.put_nowait(_Close(4009, "Session taken over"))
        conn.session = session
        session.connection = conn
        self.world.changed()

    def _members_chunk(self, conn: Connection, d: JSON) -> None:
        guild = self.world.guilds.get(int(d.get("guild_id") or 0))
        if guild is None:
            self._violation(conn, "gateway_members", f"members of unknown guild {d}")
            return
        wanted = {int(u) for u in d.get("user_ids") or []}
        query = str(d.get("query") or "").lower()
        members = [
            payloads.member(guild, self.world.users[uid])
            for uid in guild.member_ids
            if (not wanted or uid in wanted)
            and self.world.users[uid].name.lower().startswith(query)
        ]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if "nonce" in d:
            chunk["nonce"] = d["nonce"]
        self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def shutdown(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=b"emulator stopping")
