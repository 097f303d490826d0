"""The emulator against a small real discord.py bot: login, commands, components, files, rules."""

from __future__ import annotations

import asyncio
import os
import sys

import discord
import pytest

from playground import Emulator, EmulatorError, InteractionRecord
from tests.playground.harness import BOT_PROCESS, raw, running


def content_of(rec: InteractionRecord) -> str | None:
    message = rec.original_message
    return None if message is None or message.loading else message.content


# -- login, ready, sync ----------------------------------------------------------------------------


async def test_login_ready_and_command_sync_payload(emu: Emulator) -> None:
    async with running(emu) as bot:
        assert emu.connected
        assert bot.get_guild(emu.guild_id) is not None
        assert bot.get_channel(emu.channel_id) is not None
        assert emu.identifies[0]["intents"] == discord.Intents.default().value

    synced = {c["name"]: c for c in emu.commands(emu.guild_id)}
    assert {"echo", "panel", "feedback", "config"} <= set(synced)
    assert [(o["name"], o["type"], o["required"]) for o in synced["echo"]["options"]] == [
        ("text", 3, True),
        ("file", 11, True),
    ]
    assert synced["config"]["options"][0]["type"] == 2  # a subcommand group
    assert emu.commands() == []  # nothing global
    paths = [(r.method, r.path) for r in emu.requests]
    assert ("GET", "/api/v10/users/@me") in paths
    assert ("GET", "/api/v10/oauth2/applications/@me") in paths
    sync = f"/api/v10/applications/{emu.application_id}/guilds/{emu.guild_id}/commands"
    assert ("PUT", sync) in paths
    emu.assert_no_violations()


async def test_login_wrong_token_is_refused(emu: Emulator) -> None:
    with pytest.raises(discord.LoginFailure):
        async with running(emu, token="not-the-token"):  # noqa: S106 - deliberately wrong
            pass
    assert emu.violations_of("unauthorized")


# -- slash commands --------------------------------------------------------------------------------


async def test_slash_attachment_is_read_and_file_reply_is_multipart(emu: Emulator) -> None:
    async with running(emu):
        rec = await emu.slash(
            "echo",
            emu.alice,
            options={"text": "hi"},
            attachments={"file": ("in.bin", b"abc123", "application/octet-stream")},
        )
        body = await emu.response_of(rec)

    assert body["type"] == 4
    assert body["data"]["content"] == "echo: hi (6 bytes)"
    assert body["data"]["attachments"] == [{"id": 0, "filename": "rev.bin"}]
    (upload,) = rec.callback_files[0]
    assert (upload.index, upload.filename, upload.data) == (0, "rev.bin", b"321cba")
    reply = rec.original_message
    assert reply is not None
    assert reply.type == 20
    assert emu.attachment_bytes(reply.attachments[0]) == b"321cba"
    assert reply.interaction_metadata is not None
    assert reply.interaction_metadata["user"]["id"] == str(emu.alice.id)
    emu.assert_no_violations()


async def test_slash_subcommand_group_options_are_typed(emu: Emulator) -> None:
    async with running(emu):
        options = {"key": "steps", "value": 30, "fast": True, "ratio": 0.5}
        rec = await emu.slash("config", options=options, subcommand="advanced set")
        body = await emu.response_of(rec)
    assert body["data"]["content"] == "steps=30 fast=True ratio=0.5"


async def test_slash_refuses_unsynced_commands_and_unknown_options(emu: Emulator) -> None:
    async with running(emu):
        with pytest.raises(EmulatorError, match="never synced"):
            await emu.slash("imagine")
        with pytest.raises(EmulatorError, match="no option"):
            await emu.slash("echo", options={"txt": "hi"})
        with pytest.raises(EmulatorError, match="required"):
            await emu.slash("echo", options={"text": "hi"})
        with pytest.raises(EmulatorError, match="expected a number"):
            await emu.slash("config", options={"key": "a", "value": "x"}, subcommand="advanced set")


# -- components and modals -------------------------------------------------------------------------


async def test_dynamic_button_survives_bot_restart(emu: Emulator) -> None:
    async with running(emu):
        rec = await emu.slash("panel")
        await emu.response_of(rec)
    await emu.wait_disconnected()
    panel_id = rec.original_message_id
    assert panel_id is not None

    async with running(emu):  # a new Bot object: only setup_hook's registrations exist
        click = await emu.click(panel_id, "counter:0", emu.bob)
        body = await emu.response_of(click)
        assert body["type"] == 7
        assert body["data"]["content"] == "count 1 by bob"
        assert emu.message(panel_id).custom_ids() == ["counter:1"]
        with pytest.raises(EmulatorError, match="has no 'counter:0'"):
            await emu.click(panel_id, "counter:0")
        again = await emu.response_of(await emu.click(panel_id, "counter:1"))
        assert again["data"]["content"] == "count 2 by alice"
    emu.assert_no_violations()


async def test_modal_opens_and_submits(emu: Emulator) -> None:
    async with running(emu):
        rec = await emu.slash("feedback", emu.bob)
        opened = await emu.response_of(rec)
        assert opened["type"] == 9
        assert opened["data"]["title"] == "Feedback"
        with pytest.raises(EmulatorError, match="no field"):
            await emu.submit_modal(rec, {"fb:nope": "x"})
        sub = await emu.submit_modal(rec, {"fb:text": "great", "fb:rating": ["good"]})
        body = await emu.response_of(sub)
    assert body["data"]["content"] == "thanks bob: great (good)"
    layouts = [c["type"] for c in sub.payload["data"]["components"]]
    assert layouts == [1, 18]  # a row for the bare TextInput, a label for the select
    emu.assert_no_violations()


async def test_select_sends_the_chosen_values(emu: Emulator) -> None:
    async with running(emu):
        rec = await emu.slash("pick")
        await emu.response_of(rec)
        assert rec.original_message_id is not None
        with pytest.raises(EmulatorError, match="options are"):
            await emu.select(rec.original_message_id, "pick:color", ["green"])
        chosen = await emu.select(rec.original_message_id, "pick:color", ["blue"], emu.bob)
        body = await emu.response_of(chosen)
    assert body["data"] == {"content": "picked blue", "flags": 64, "tts": False}
    assert chosen.payload["data"]["values"] == ["blue"]
    assert chosen.payload["message"]["id"] == str(rec.original_message_id)


# -- replies ---------------------------------------------------------------------------------------


async def test_ephemeral_reply_is_stored_but_not_dispatched(emu: Emulator) -> None:
    async with running(emu):
        rec = await emu.slash("secret")
        await emu.response_of(rec)
        reply = rec.original_message
        assert reply is not None
        assert reply.ephemeral
        created = [f for f in emu.frames if f.t == "MESSAGE_CREATE"]
        assert all(f.d["id"] != str(reply.id) for f in created)
        status, _, _ = await raw(emu, "GET", f"/channels/{emu.channel_id}/messages/{reply.id}")
        assert status == 404  # ephemeral messages are invisible to REST


async def test_defer_followup_and_edit_original(emu: Emulator) -> None:
    async with running(emu):
        rec = await emu.slash("slow")
        assert (await emu.response_of(rec))["type"] == 5
        await emu.wait_for(lambda: len(rec.followup_ids) == 2 and content_of(rec) == "done")
    original, second = rec.followups
    # Discord: the first follow-up after a "thinking" defer replaces the loading message.
    assert original.id == rec.original_message_id
    assert (original.content, second.content) == ("done", "part 2")
    assert [m.content for m in emu.messages()] == ["done", "part 2"]
    emu.assert_no_violations()


async def test_channel_send_with_file_then_edit_then_delete(emu: Emulator) -> None:
    async with running(emu):
        rec = await emu.slash("post")
        await emu.wait_for(lambda: any(m.deleted for m in emu.messages(include_deleted=True)))
    posted = [m for m in emu.messages(include_deleted=True) if not m.ephemeral]
    (msg,) = posted
    assert msg.deleted
    assert msg.content == "final"
    assert [r["content"] for r in msg.revisions] == ["draft"]
    assert emu.attachment_bytes(msg.attachments[0]) == b"hello file"
    (send,) = emu.requests_to("POST", f"/channels/{emu.channel_id}/messages")
    assert send.json["enforce_nonce"] is True
    assert send.files[0].filename == "hello.txt"
    events = [f.t for f in emu.frames if f.t and f.t.startswith("MESSAGE_")]
    assert events[-3:] == ["MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"]
    assert rec.original_message is not None
    assert rec.original_message.ephemeral


async def test_upload_over_the_limit_is_413_for_the_bot(emu: Emulator) -> None:
    emu.set_upload_limit(1024)
    async with running(emu) as bot:
        rec = await emu.slash("upload", options={"size": 2048})
        await emu.wait_for(lambda: bot.errors)
        assert rec.payload["attachment_size_limit"] == 1024
    (error,) = bot.errors
    assert isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (413, 40005)
    assert emu.violations_of("too_large")
    assert not rec.acknowledged


# -- Discord's rules -------------------------------------------------------------------------------


async def test_ack_deadline_missed_is_unknown_interaction(emu: Emulator) -> None:
    async with running(emu) as bot:
        rec = await emu.slash("sleepy")
        emu.advance(3.5)
        assert "not acknowledged" in emu.violations_of("ack_deadline")[0].message
        bot.gate.set()
        await emu.wait_for(lambda: bot.errors)
    (error,) = bot.errors
    assert isinstance(error, discord.NotFound)
    assert error.code == 10062
    assert len(emu.violations_of("ack_deadline")) == 2  # unanswered, then answered late
    assert not rec.acknowledged


async def test_token_expiry_refuses_late_followups(emu: Emulator) -> None:
    async with running(emu) as bot:
        rec = await emu.slash("late")
        await emu.response_of(rec)
        emu.advance(15 * 60 + 1)
        bot.gate.set()
        await emu.wait_for(lambda: bot.errors)
    (error,) = bot.errors
    assert isinstance(error, discord.HTTPException)
    assert error.code == 50027
    assert emu.violations_of("token_expired")


async def test_second_ack_is_40060(emu: Emulator) -> None:
    async with running(emu):
        rec = await emu.slash("ping")
        await emu.response_of(rec)
        path = f"/interactions/{rec.id}/{rec.token}/callback"
        status, content_type, body = await raw(
            emu, "POST", path, {"type": 4, "data": {"content": "again"}}, auth=False
        )
    assert (status, body["code"]) == (400, 40060)
    assert content_type == "application/json"
    assert emu.violations_of("double_ack")


async def test_rate_limit_is_retried_and_injected_errors_are_served(emu: Emulator) -> None:
    async with running(emu):
        emu.rate_limit_next("POST", "/callback")
        rec = await emu.slash("ping")
        await emu.response_of(rec)
    assert [r.status for r in emu.requests_to("POST", "/callback")] == [429, 200]
    emu.inject_error("POST", "/messages", 403, 50013, "Missing Permissions")
    send = f"/channels/{emu.channel_id}/messages"
    status, _, body = await raw(emu, "POST", send, {"content": "x"})
    assert (status, body["code"]) == (403, 50013)
    status, _, body = await raw(emu, "POST", send, {"content": "x"})
    assert status == 200
    emu.assert_no_violations()


# -- gateway and processes -------------------------------------------------------------------------


async def test_gateway_reconnect_resumes_the_session(emu: Emulator) -> None:
    def resumed() -> int:
        return sum(f.t == "RESUMED" for f in emu.frames)

    async with running(emu):
        (ready,) = [f for f in emu.frames if f.t == "READY"]
        emu.send_op(7)  # RECONNECT
        await emu.wait_for(lambda: resumed() == 1)
        emu.close_gateway(4000)  # a resumable close code
        await emu.wait_for(lambda: resumed() == 2)
        emu.send_op(9, True)  # INVALID_SESSION, resumable
        await emu.wait_for(lambda: resumed() == 3)
        await emu.wait_connected()
        rec = await emu.slash("ping")
        assert (await emu.response_of(rec))["data"]["content"] == "pong"
    resumes = [f for f in emu.frames if f.direction == "in" and f.op == 6]
    assert {f.d["session_id"] for f in resumes} == {ready.d["session_id"]}
    assert len(emu.identifies) == 1  # resumed every time, never re-identified


async def test_reactions_are_recorded_and_dispatched(emu: Emulator) -> None:
    async with running(emu) as bot:
        rec = await emu.slash("react")
        await emu.wait_for(lambda: rec.original_message and rec.original_message.reactions)
        message_id = rec.original_message_id
        assert message_id is not None
        await emu.react(message_id, "🎉", emu.bob)
        await emu.wait_for(lambda: ("🎉", emu.bob.id, message_id) in bot.reactions)
    assert emu.message(message_id).reactions == {"👍": [emu.bot_user.id], "🎉": [emu.bob.id]}


async def test_dm_channel_is_created_and_used(emu: Emulator) -> None:
    async with running(emu):
        rec = await emu.slash("dm", emu.bob)
        await emu.response_of(rec)
        await emu.wait_for(lambda: emu.dms(emu.bob))
    (dm,) = emu.dms(emu.bob)
    assert dm.content == "hello in private"
    assert dm.guild_id is None
    assert emu.dms(emu.alice) == []


async def test_user_messages_need_the_message_content_intent(emu: Emulator) -> None:
    async with running(emu) as bot:  # default intents: no message_content
        await emu.say("hello", emu.bob)
        await emu.say(f"{emu.bot_user.mention} hi", emu.bob)
        await emu.wait_for(lambda: len(bot.seen) == 2)
    assert bot.seen == ["", f"{emu.bot_user.mention} hi"]
    assert [m.content for m in emu.messages()] == ["hello", f"{emu.bot_user.mention} hi"]


async def test_world_survives_a_killed_bot_process(emu: Emulator) -> None:
    env = {**os.environ, **emu.bot_env()}
    answers = []
    for _ in range(2):
        bot = await asyncio.create_subprocess_exec(sys.executable, "-c", BOT_PROCESS, env=env)
        try:
            await emu.wait_connected()
            rec = await emu.slash("whoami")
            answers.append((await emu.response_of(rec))["data"]["content"])
            assert answers[-1] == f"pid {bot.pid}"
        finally:
            bot.kill()
            await bot.wait()
        await emu.wait_disconnected()
    assert [m.content for m in emu.messages()] == answers
    emu.assert_no_violations()


async def test_autocomplete_sends_the_typed_value_and_returns_the_bots_choices(
    emu: Emulator,
) -> None:
    async with running(emu) as bot:
        rec = await emu.autocomplete("colour", "name", options={"name": "re", "shade": "dark"})
        choices = await emu.choices_of(rec)
        assert bot.autocompleted == ["re"]
        with pytest.raises(EmulatorError, match="has no autocomplete; these have: \\['name'\\]"):
            await emu.autocomplete("colour", "shade")
    assert choices == [
        {"name": "Red", "value": "red"},
        {"name": "Green", "value": "green"},
        {"name": "Rebeccapurple", "value": "rebeccapurple"},
    ]
    sent = rec.payload["data"]["options"]
    assert sent == [
        {"name": "name", "type": 3, "value": "re", "focused": True},
        {"name": "shade", "type": 3, "value": "dark"},
    ]
    assert rec.response_type == 8
    emu.assert_no_violations()
