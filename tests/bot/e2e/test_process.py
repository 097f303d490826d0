"""The bot as a real process (`mjbot serve`): start-up, signals, and a crash mid-job."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from playground import Emulator
from tests.bot.e2e.conftest import (
    MJBOT,
    ROOT,
    BotDatabase,
    BotProcess,
    connected,
    imagine,
    results,
    wait_result,
)


def _setup_command() -> tuple[dict[str, str], list[str]]:
    """The README's main-job command, split into its variables and its words."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Set-up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    line = block.strip().splitlines()[0].split("#", 1)[0].split()
    variables = dict(word.split("=", 1) for word in line if re.match(r"^[A-Z_]+=", word))
    return variables, [word for word in line if not re.match(r"^[A-Z_]+=", word)]


async def test_readme_main_job_opens_the_local_playground_and_stops_cleanly(
    tmp_path: Path, shared_models: Path
) -> None:
    """The README's main command, with nothing else set: it prints where to open the
    playground, whose page talks to the bot; /imagine there makes a grid."""
    variables, command = _setup_command()
    assert (command, variables) == (["./scripts/mjbot", "serve"], {})
    data = tmp_path / "data"
    data.mkdir()
    (data / "models").symlink_to(shared_models, target_is_directory=True)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "MJ_"))}
    # Only where its files and its port are (tests run side by side), and a short render.
    env.update(MJ_DATA_DIR=str(data), MJ_PLAYGROUND_PORT=str(port), MJ_STEPS="4")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        await _wait_output(process, log, f"Open {url} to use mjbot (local playground; set ")
        async with aiohttp.ClientSession() as http:
            state = await _ready_state(process, log, http, url)
            [guild] = state["guilds"]
            names = sorted(c["name"] for c in guild["commands"])
            assert names == sorted(
                {"imagine", "blend", "describe", "settings", "prefer", "fast", "relax", "turbo"}
                | {"info", "show", "transfer", "mimic", "loras", "portrait", "retexture"}
                | {"background"}
            )
            channel = guild["channels"][0]["id"]
            alice = state["users"][0]["id"]
            body = {
                "name": "imagine",
                "user_id": alice,
                "channel_id": channel,
                "options": {"prompt": "a red circle on the left, blue background --seed 7"},
            }
            async with http.post(f"{url}client/commands", json=body) as response:
                assert response.status == 200, await response.text()
            grid = await _wait_message(
                http, url, channel, r"blue background --seed 7\*\* - <@\d+> \(fast\)$"
            )
            assert len(grid["attachments"]) == 1
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 60)
    output = _text(log)
    assert code == 0, output[-3000:]
    assert "Traceback" not in output
    # No MJ_MODEL: the built-in shapes model, said plainly at start.
    assert "MJ_MODEL is builtin:shapes: a small built-in model that draws coloured shapes" in output
    assert "set MJ_MODEL for real images" in output
    assert (data / "playground").is_dir()  # its world is kept in the data folder


def _text(log: Path) -> str:
    return log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_output(process: asyncio.subprocess.Process, log: Path, text: str) -> None:
    for _ in range(1200):
        if text in _text(log):
            return
        if process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {text!r} in the output:\n{_text(log)[-3000:]}")


async def _ready_state(
    process: asyncio.subprocess.Process, log: Path, http: aiohttp.ClientSession, url: str
) -> dict[str, Any]:
    for _ in range(1200):
        async with http.get(f"{url}client/state") as response:
            state: dict[str, Any] = await response.json()
        if state["connected"] and state["guilds"][0]["commands"]:
            return state
        assert process.returncode is None, _text(log)[-3000:]
        await asyncio.sleep(0.1)
    raise AssertionError("the bot did not connect to its playground")


async def _wait_message(
    http: aiohttp.ClientSession, url: str, channel: str, pattern: str
) -> dict[str, Any]:
    for _ in range(1200):
        async with http.get(f"{url}client/channels/{channel}/messages") as response:
            messages = (await response.json())["messages"]
        found = [
            m for m in messages if re.search(pattern, m.get("content", "")) and m["attachments"]
        ]
        if found:
            return dict(found[0])
        await asyncio.sleep(0.1)
    raise AssertionError(f"no message /{pattern}/")


async def test_missing_settings_are_listed_and_exit_non_zero(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "MJ_"))}
    env["MJ_MAX_ACTIVE_JOBS"] = "zero"
    process = await asyncio.create_subprocess_exec(
        str(MJBOT),
        "serve",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    message = stderr.decode()
    assert "MJ_MAX_ACTIVE_JOBS" in message.splitlines()[1]
    assert "MJ_MAX_ACTIVE_JOBS" in message
    assert "Traceback" not in message


async def test_an_unusable_data_folder_is_named_with_its_cause(tmp_path: Path) -> None:
    """MJ_DATA_DIR where no folder can be (under a file): one plain message naming the path
    and why, exit 1, no traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "MJ_"))}
    env.update(MJ_DATA_DIR=str(blocker / "data"), MJ_PLAYGROUND_PORT="0")
    process = await asyncio.create_subprocess_exec(
        str(MJBOT), "serve", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 120)
    message = stderr.decode()
    assert process.returncode == 1, message[-2000:]
    assert f"error: cannot write {blocker / 'data'}" in message
    assert "Traceback" not in message


async def test_bot_killed_mid_job_restarts_and_delivers_each_job_once(
    emu: Emulator, database: BotDatabase, tmp_path: Path, shared_models: Path
) -> None:
    data = tmp_path / "data"
    long_jobs = {"MJ_STEPS": "3000"}  # ~a minute each
    bot = BotProcess(emu, database, data, shared_models, **long_jobs)
    await bot.start()
    await connected(emu, bot)
    prompts = [f"a ship in a bottle number {i}" for i in range(3)]
    for prompt in prompts:
        await imagine(emu, prompt)

    def first_job_running() -> bool:
        return bool(database.rows("SELECT 1 FROM jobs WHERE status = 'running'"))

    # Kill -9 once the first job is rendering (it reports progress, the database says so).
    try:
        await emu.wait_for(
            lambda: (
                any(re.search(r"\(\d+%\)", m.content) for m in emu.messages())
                and first_job_running()
            ),
            60,
            what="the first job to be rendering",
        )
    except TimeoutError as error:
        shown = "\n".join(f"{m.id}: {m.content!r}" for m in emu.messages())
        rows = database.rows("SELECT prompt, status, attempts FROM jobs")
        raise AssertionError(
            f"{error}\n--- messages ---\n{shown}\n--- jobs ---\n{rows}\n"
            f"--- bot log ---\n{bot.output()[-3000:]}"
        ) from None
    await bot.stop(signal.SIGKILL)
    await emu.wait_disconnected()
    delivered_before = {p for p in prompts if results(emu, re.escape(p) + r"\*\* - ")}
    assert len(delivered_before) < 3
    states = dict(database.rows("SELECT prompt, status FROM jobs"))
    assert "running" in states.values()

    again = BotProcess(emu, database, data, shared_models, MJ_STEPS="8")
    await again.start()
    try:
        await connected(emu, again)
        for prompt in prompts:
            await wait_result(emu, re.escape(prompt) + r"\*\* - <@\d+> \(fast\)$", timeout=120)
    finally:
        assert await again.stop() == 0
    for prompt in prompts:
        assert len(results(emu, re.escape(prompt) + r"\*\* - <@\d+> \(fast\)$")) == 1
    rows = database.rows("SELECT status, delivered, attempts FROM jobs")
    assert {(status, delivered) for status, delivered, _ in rows} == {("done", 1)}
    assert max(attempts for *_, attempts in rows) == 2  # the interrupted one ran twice


@pytest.mark.parametrize("signum", [signal.SIGINT])
async def test_sigint_also_stops_cleanly(
    emu: Emulator, database: BotDatabase, tmp_path: Path, shared_models: Path, signum: int
) -> None:
    bot = BotProcess(emu, database, tmp_path / "data", shared_models)
    await bot.start()
    await connected(emu, bot)
    assert await bot.stop(signum) == 0


async def test_sigterm_during_a_job_requeues_it(
    emu: Emulator, database: BotDatabase, tmp_path: Path, shared_models: Path
) -> None:
    bot = BotProcess(emu, database, tmp_path / "data", shared_models, MJ_STEPS="3000")
    await bot.start()
    await connected(emu, bot)
    await imagine(emu, "a long exposure of the stars")

    def rendering() -> bool:
        return bool(database.rows("SELECT 1 FROM jobs WHERE status = 'running'"))

    await emu.wait_for(rendering, 60, what="the job to be rendering")
    assert await bot.stop(signal.SIGTERM) == 0  # the running step is cancelled, cleanly
    [(status, delivered)] = database.rows("SELECT status, delivered FROM jobs")
    assert (status, delivered) == ("queued", 0)  # it runs again at the next start
    assert not results(emu, "a long exposure")
