"""The playground's world in a data folder: a restart keeps history, files, reactions and
commands, and the buttons of old messages still work."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from playground import Emulator, Playground, start_playground
from playground.models import UploadedFile
from playground.store import FLUSH_DELAY, Store
from tests.playground.harness import running
from tests.playground.wiring import point_discord_at


async def test_a_restart_keeps_the_world_and_old_buttons_work(tmp_path: Path) -> None:
    # 1. a first run: a counter panel, a file reply, a reaction, a DM, a synced command list
    first = Emulator(data_dir=tmp_path)
    await first.start()
    with point_discord_at(first):
        async with running(first):
            panel = await first.slash("panel")
            await first.response_of(panel)
            echo = await first.slash(
                "echo",
                options={"text": "hi"},
                attachments={"file": ("in.bin", b"abc123", "application/octet-stream")},
            )
            await first.response_of(echo)
            assert panel.original_message_id is not None
            await first.react(panel.original_message_id, "👍", first.bob)
            dm = await first.slash("dm", first.bob)
            await first.wait_for(lambda: first.dms(first.bob), what="the DM")
            await first.response_of(dm)
    ids = (first.token, first.guild_id, first.channel_id, first.alice.id, first.bob.id)
    history = [(m.id, m.content, m.ephemeral) for m in first.messages()]
    commands = first.commands(first.guild_id)
    await first.stop()

    # 2. a second run on the same folder
    second = Emulator(data_dir=tmp_path)
    await second.start()
    try:
        assert (second.token, second.guild_id, second.channel_id) == ids[:3]
        assert (second.alice.id, second.bob.id) == ids[3:]
        assert [(m.id, m.content, m.ephemeral) for m in second.messages()] == history
        assert second.commands(second.guild_id) == commands
        panel_message = second.message(panel.original_message_id)
        assert panel_message.reactions == {"👍": [second.bob.id]}
        reply = second.message(echo.original_message_id or 0)
        stored = reply.attachments[0]
        assert stored.blob is None  # read back from its file, not kept in memory
        assert second.attachment_bytes(stored) == b"321cba"
        assert [m.content for m in second.dms(second.bob)] == ["hello in private"]
        with point_discord_at(second):
            async with running(second):  # a new bot: the old panel's button still counts
                click = await second.click(panel_message.id, "counter:0", second.bob)
                body = await second.response_of(click)
                assert body["data"]["content"] == "count 1 by bob"
                # the bot reads the restored file over HTTP, at this run's address
                fetched = await _get(stored.url)
                assert fetched == b"321cba"
        second.assert_no_violations()
    finally:
        await second.stop()


async def test_batches_reach_the_disk_without_a_clean_stop(tmp_path: Path) -> None:
    """A crash loses at most the last batch: changes are on disk shortly after they happen."""
    emu = Emulator(data_dir=tmp_path)
    await emu.start()
    try:
        message = await emu.say("before the crash", emu.alice)
        await asyncio.sleep(FLUSH_DELAY * 4)
        with sqlite3.connect(tmp_path / "playground.db") as db:
            rows = db.execute("SELECT key FROM records WHERE kind = 'message'").fetchall()
        assert rows == [(str(message.id),)]
        # a second reader of the folder, as after kill -9, sees the message
        reader = Playground(data_dir=tmp_path)
        assert [m.content for m in reader.world.messages.values()] == ["before the crash"]
        assert reader.store is not None
        await reader.store.close()
    finally:
        await emu.stop()


async def test_replaced_and_deleted_files_leave_the_disk(tmp_path: Path) -> None:
    emu = Emulator(data_dir=tmp_path)
    await emu.start()
    try:
        files = tmp_path / "files"
        first = UploadedFile(0, "preview-1.png", "image/png", b"one")
        ch = emu.channel()
        msg = emu.world.create_message(ch, emu.bot_user.id, {"content": "50%"}, [first])
        await emu.flush()
        (old,) = msg.attachments
        assert (files / str(old.id)).read_bytes() == b"one"
        second = UploadedFile(0, "preview-2.png", "image/png", b"two")
        emu.world.edit_message(msg, {"content": "90%", "attachments": []}, [second])
        await emu.flush()
        (new,) = msg.attachments
        assert sorted(p.name for p in files.iterdir()) == [str(new.id)]
        emu.world.delete_message(msg)
        await emu.flush()
        assert list(files.iterdir()) == []
    finally:
        await emu.stop()
    again = Playground(data_dir=tmp_path)
    assert again.world.messages == {}
    assert again.store is not None
    await again.store.close()


async def test_a_new_playground_has_two_channels_two_people_and_its_own_token(
    tmp_path: Path,
) -> None:
    one = await start_playground(tmp_path / "one", "127.0.0.1", 0)
    other = await start_playground(tmp_path / "other", "127.0.0.1", 0)
    try:
        guild = one.guild()
        assert [one.world.channels[c].name for c in guild.channel_ids] == ["general", "art"]
        people = sorted(u.name for u in one.world.users.values() if not u.bot)
        assert people == ["alice", "bob", "owner"]
        assert one.token != other.token
        env = one.bot_env()
        assert env["DISCORD_API_BASE_URL"] == f"http://127.0.0.1:{one.port}/api/v10"
        assert env["DISCORD_GATEWAY_URL"] == f"ws://127.0.0.1:{one.port}/gateway"
        assert env["DISCORD_GUILD_IDS"] == str(one.guild_id)
        assert env["DISCORD_TOKEN"] == one.token
        assert one.url == f"http://127.0.0.1:{one.port}/"
        token = one.token
    finally:
        await one.stop()
        await other.stop()
    again = await start_playground(tmp_path / "one", "127.0.0.1", 0)
    try:
        assert again.token == token
    finally:
        await again.stop()


async def _get(url: str) -> bytes:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.read()


def test_store_refuses_a_folder_of_another_schema(tmp_path: Path) -> None:
    Store(tmp_path)
    with sqlite3.connect(tmp_path / "playground.db") as db:
        db.execute("INSERT INTO meta (key, value) VALUES ('schema', '99')")
    with pytest.raises(RuntimeError, match="has schema 99, expected 1"):
        Playground(data_dir=tmp_path)


async def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    first = await start_playground(tmp_path / "one", "127.0.0.1", 0)
    try:
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{first.port}"):
            await start_playground(tmp_path / "two", "127.0.0.1", first.port)
    finally:
        await first.stop()
