"""Signed, expiring links to the region editor: ``/edit/<token>``.

A token is ``<payload>.<signature>``: the payload (base64url JSON) names the job, the image,
the user and the expiry; the signature is HMAC-SHA256 over the payload with the bot's secret.
Changing one character of either makes it invalid; an expired one is refused; each token has
a nonce from which the region job's id is derived, so a token is used at most once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["EditGrant", "TokenError", "load_secret", "sign", "verify"]

DEFAULT_TTL_S = 15 * 60
_NAMESPACE = uuid.UUID("6f1c1a52-1f5e-4a55-9a0e-8d3f0b6c2a71")


class TokenError(Exception):
    """Why a token was refused (shown on the 403 page)."""


@dataclass(frozen=True, slots=True)
class EditGrant:
    """What a token allows: editing image ``index`` (1-based) of ``job_id`` as ``user_id``."""

    job_id: str
    index: int
    user_id: int
    expires: int
    """Unix time after which the token is refused."""
    nonce: str
    remix: bool = False
    """The prompt may be changed (the user had Remix mode on)."""
    reference: bool = False
    """Vary (Reference): the region is repainted imitating a reference image, not a prompt."""
    preset: int | None = None
    """Vary (Reference): image ``preset`` (0-based) of the same job is offered as the reference
    (``/mimic`` without a mask stores its image and reference as one job's two images)."""
    keep_shape: bool = False
    """Vary (Reference): Keep shape starts switched on."""
    background: bool = False
    """Change Background: the selection is the subject to keep; the rest is repainted."""

    @classmethod
    def issue(
        cls,
        job_id: str,
        index: int,
        user_id: int,
        *,
        remix: bool,
        reference: bool = False,
        preset: int | None = None,
        keep_shape: bool = False,
        background: bool = False,
        ttl_s: int = DEFAULT_TTL_S,
    ) -> EditGrant:
        expires = int(time.time()) + ttl_s
        nonce = secrets.token_hex(16)
        return cls(
            job_id, index, user_id, expires, nonce, remix, reference, preset, keep_shape,
            background,
        )  # fmt: skip

    @property
    def button(self) -> str:
        """The button that made the link."""
        if self.background:
            return "Change Background"
        return "Vary (Reference)" if self.reference else "Vary (Region)"

    @property
    def region_job_id(self) -> str:
        """The id the region job made with this token gets: a second submit collides."""
        return str(uuid.uuid5(_NAMESPACE, self.nonce))


def sign(grant: EditGrant, secret: bytes) -> str:
    payload = _b64(json.dumps(asdict(grant), separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_b64(_mac(secret, payload))}"


def verify(token: str, secret: bytes, *, now: float | None = None) -> EditGrant:
    """The grant inside ``token``; :class:`TokenError` if it is malformed, tampered with or
    expired."""
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature or len(token) > 1024:
        raise TokenError("this link is not a valid editor link")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        raise TokenError("this link is not a valid editor link") from None
    if not hmac.compare_digest(given, _mac(secret, payload)):
        raise TokenError("this link has been changed or was not made by this bot")
    try:
        fields = json.loads(_unb64(payload))
        grant = EditGrant(
            job_id=str(fields["job_id"]),
            index=int(fields["index"]),
            user_id=int(fields["user_id"]),
            expires=int(fields["expires"]),
            nonce=str(fields["nonce"]),
            remix=bool(fields.get("remix", False)),
            reference=bool(fields.get("reference", False)),
            preset=None if fields.get("preset") is None else int(fields["preset"]),
            keep_shape=bool(fields.get("keep_shape", False)),
            background=bool(fields.get("background", False)),
        )
    except (ValueError, KeyError, TypeError):
        raise TokenError("this link is not a valid editor link") from None
    if (time.time() if now is None else now) > grant.expires:
        raise TokenError(f"this link has expired; press {grant.button} again for a new one")
    return grant


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """``MJ_SECRET`` if set; otherwise a random secret kept in the data folder (so links
    survive restarts), created on first use, readable only by its owner."""
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32).encode()
    partial = path.with_suffix(".partial")
    partial.write_bytes(value)
    partial.chmod(0o600)
    partial.replace(path)
    return value


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, payload.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """Strict: only the one encoding :func:`_b64` makes of some bytes is accepted (no padding,
    no other alphabet, no stray bits in the last character), so every changed character of a
    token changes what it says or breaks it."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not in canonical base64url")
    return data
