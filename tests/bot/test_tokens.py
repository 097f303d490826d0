"""Editor links: one valid spelling per token — any changed character is refused."""

from __future__ import annotations

import base64

import pytest

from bot.exts.region.web.tokens import EditGrant, TokenError, sign, verify

SECRET = b"a secret"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _same_bytes_other_char(text: str) -> str:
    """The last character swapped for another that decodes to the same bytes (it differs only
    in bits the encoding ignores) — what a lax decoder accepts; ``text`` when there is none."""
    for other in ALPHABET:
        changed = text[:-1] + other
        if other != text[-1] and _decode(changed) == _decode(text):
            return changed
    return text


def test_only_the_issued_spelling_verifies() -> None:
    grant = EditGrant.issue("00000000-0000-0000-0000-000000000001", 2, 42, remix=False)
    token = sign(grant, SECRET)
    assert verify(token, SECRET) == grant
    payload, signature = token.split(".")
    variants = [
        f"{token}==",
        f"{token}=",
        f"{payload}.{_same_bytes_other_char(signature)}",
        f"{_same_bytes_other_char(payload)}.{signature}",
        f"{payload}=.{signature}",
        f"{payload}.{signature.replace('-', '+').replace('_', '/')}",
    ]
    refused = 0
    for variant in variants:
        if variant == token:
            continue
        with pytest.raises(TokenError):
            verify(variant, SECRET)
        refused += 1
    assert refused >= 4


def test_reference_grants_carry_their_offer_and_old_tokens_still_verify() -> None:
    """Vary (Reference) links carry the offered reference and Keep shape; a token signed
    before those fields existed verifies as a Vary (Region) link."""
    import json

    grant = EditGrant.issue("job", 1, 42, remix=False, reference=True, preset=1, keep_shape=True)
    assert verify(sign(grant, SECRET), SECRET) == grant
    old = {"job_id": "job", "index": 2, "user_id": 7, "expires": 4_000_000_000, "nonce": "n"}
    payload = base64.urlsafe_b64encode(json.dumps(old).encode()).rstrip(b"=").decode()
    import hashlib
    import hmac

    mac = hmac.new(SECRET, payload.encode(), hashlib.sha256).digest()
    token = f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert verify(token, SECRET) == EditGrant("job", 2, 7, 4_000_000_000, "n")
    expired = EditGrant("job", 1, 42, 1, "n", reference=True)
    with pytest.raises(TokenError, match=r"press Vary \(Reference\) again"):
        verify(sign(expired, SECRET), SECRET)
