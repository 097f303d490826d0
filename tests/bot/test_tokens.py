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
