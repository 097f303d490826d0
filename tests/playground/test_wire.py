"""The emulator's wire behaviour without a bot: errors, rules, gateway close codes, files."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from playground import Emulator, EmulatorError, payloads
from tests.playground.harness import raw


async def test_gateway_wrong_token_closes_4004(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(emu.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
        await ws.receive()
        assert ws.close_code == 4004
    assert emu.violations_of("bad_token")


async def test_message_rules_are_enforced(emu: Emulator) -> None:
    send = f"/channels/{emu.channel_id}/messages"
    row = {"type": 1, "components": [{"type": 2, "style": 1, "label": "x", "custom_id": "a"}]}
    long_id = {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "x" * 101}]}
    cases = [
        ({"content": "x" * 2001}, 50035),
        ({"content": ""}, 50006),
        ({"content": "rows", "components": [row] * 6}, 50035),
        ({"content": "dup", "components": [row, row]}, 50035),
        ({"content": "long", "components": [long_id]}, 50035),
    ]
    for body, code in cases:
        status, _, answer = await raw(emu, "POST", send, body)
        assert (status, answer["code"]) == (400, code), body
    assert [v.code for v in emu.violations] == [code for _, code in cases]
    assert emu.messages() == []


async def test_nonce_makes_a_retried_send_idempotent(emu: Emulator) -> None:
    send = f"/channels/{emu.channel_id}/messages"
    body = {"content": "once", "nonce": "42", "enforce_nonce": True}
    _, _, first = await raw(emu, "POST", send, body)
    _, _, second = await raw(emu, "POST", send, body)
    assert first["id"] == second["id"]
    assert len(emu.messages()) == 1


async def test_unknown_route_is_404_json_and_recorded(emu: Emulator) -> None:
    status, content_type, body = await raw(emu, "GET", "/channels/1/nonsense")
    assert (status, content_type, body["code"]) == (404, "application/json", 0)
    assert emu.violations_of("unknown_route")[0].path == "/api/v10/channels/1/nonsense"


async def test_hosted_files_can_be_slow_redirected_or_mislabelled(emu: Emulator) -> None:
    url = emu.host_file("img/cat.png", b"not really a png", "image/png", chunk_delay=0.01)
    hop = emu.host_redirect("short", url)
    async with aiohttp.ClientSession() as session, session.get(hop) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"
        assert await response.read() == b"not really a png"
        assert [str(h.url) for h in response.history] == [hop]
    assert emu.hosted("img/cat.png").hits == 1


async def test_emulator_bug_is_500_json_and_fails_wait_for(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(payloads, "app_info", broken)
    waited, answered = await asyncio.gather(
        emu.wait_for(lambda: False, timeout=2),
        raw(emu, "GET", "/oauth2/applications/@me"),
        return_exceptions=True,
    )
    assert isinstance(waited, EmulatorError)
    assert "boom" in str(waited)
    assert answered == (
        500,
        "application/json",
        {"code": 0, "message": "500: Internal Server Error"},
    )
