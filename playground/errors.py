"""Errors: `ApiError` is what Discord would answer; `EmulatorError` is a test-driver misuse."""

from __future__ import annotations

from typing import Any


class EmulatorError(Exception):
    """The test asked for something Discord's client would never send (unknown command, ...)."""


class EmulatorTimeoutError(EmulatorError, TimeoutError):
    """`wait_for` gave up; the message carries the recent violations and requests."""


class ApiError(Exception):
    """An error response in Discord's shape, recorded as a violation of `kind` when sent.

    Attributes:
        status: HTTP status.
        code: Discord JSON error code (10062, 40060, 50035, ...).
        message: Discord's message text.
        kind: short violation name the tests assert on ("double_ack", "too_large", ...).
        errors: the nested `errors` object of a 50035 "Invalid Form Body".
        detail: extra explanation recorded with the violation, never sent to the bot.
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        kind: str,
        errors: dict[str, Any] | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(f"{status} {code} {message}: {detail or kind}")
        self.status = status
        self.code = code
        self.message = message
        self.kind = kind
        self.errors = errors
        self.detail = detail

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def form_error(path: str, code: str, message: str, *, kind: str = "invalid_form") -> ApiError:
    """A 50035 "Invalid Form Body" whose `errors` nest along a dotted `path` like Discord's."""
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        errors = {part: errors}
    return ApiError(
        400, 50035, "Invalid Form Body", kind=kind, errors=errors, detail=f"{path}: {message}"
    )


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message", kind="unknown_message")


def unknown_channel() -> ApiError:
    return ApiError(404, 10003, "Unknown Channel", kind="unknown_channel")


def unknown_interaction(detail: str, *, kind: str = "unknown_interaction") -> ApiError:
    return ApiError(404, 10062, "Unknown interaction", kind=kind, detail=detail)
