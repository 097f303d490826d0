"""Test-side control of the emulator: files hosted for fetchers, gateway hooks, clock, faults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from playground.errors import EmulatorError
from playground.gateway import Gateway
from playground.models import JSON, HostedFile
from playground.server import INJECTIONS, Injection
from playground.world import World


class ControlMixin:
    """The `Emulator` methods that bend the world rather than act in it."""

    world: World
    gateway: Gateway
    _app: web.Application | None

    @property
    def http_base(self) -> str:
        return self.world.http_base

    # -- hosting files for fetchers -----------------------------------------------------------

    def host_file(
        self,
        path: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        status: int = 200,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        chunk_size: int = 64 * 1024,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Serve `data` at the returned URL; `content_type` may lie, `delay`s make it slow."""
        path = path.lstrip("/")
        self.world.hosted[path] = HostedFile(
            path=path,
            data=data,
            content_type=content_type,
            status=status,
            delay=delay,
            chunk_delay=chunk_delay,
            chunk_size=chunk_size,
            headers=dict(headers or {}),
        )
        return f"{self.http_base}/files/{path}"

    def host_redirect(self, path: str, location: str, *, status: int = 302) -> str:
        path = path.lstrip("/")
        self.world.hosted[path] = HostedFile(
            path=path, data=b"", content_type="text/plain", status=status, redirect_to=location
        )
        return f"{self.http_base}/files/{path}"

    def hosted(self, path: str) -> HostedFile:
        return self.world.hosted[path.lstrip("/")]

    # -- hooks --------------------------------------------------------------------------------

    def send_op(self, op: int, d: Any = None) -> None:
        """Send a raw opcode: 7 RECONNECT, 9 INVALID_SESSION (d: resumable?), 1 HEARTBEAT."""
        self.gateway.send_op(op, d)

    def dispatch(self, event: str, data: JSON) -> None:
        self.world.dispatch(event, data)

    def close_gateway(self, code: int = 4000, reason: str = "closed by test") -> None:
        self.gateway.close(code, reason)

    def advance(self, seconds: float) -> None:
        """Move the clock: acknowledgement deadlines and token lifetimes see the jump."""
        self.world.clock.advance(seconds)
        self.world.check_deadlines()
        self.world.changed()

    def inject_error(
        self,
        method: str,
        path_contains: str,
        status: int,
        code: int,
        message: str,
        *,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests (`method` may be "*") with this error."""
        self._injections.append(
            Injection(method, path_contains, status, {"code": code, "message": message}, {}, times)
        )

    def rate_limit_next(
        self, method: str, path_contains: str, retry_after: float = 0.05, *, is_global: bool = False
    ) -> None:
        """One 429 that discord.py retries (it needs the `Via` header and a JSON body)."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after}
        body["global"] = is_global
        headers = {"Via": "1.1 google", "Retry-After": str(retry_after)}
        self._injections.append(Injection(method, path_contains, 429, body, headers))

    @property
    def _injections(self) -> list[Injection]:
        if self._app is None:
            raise EmulatorError("start the emulator first")
        return self._app[INJECTIONS]
