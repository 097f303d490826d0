"""The bot as a real process (`mjbot serve`): start-up, signals, and a crash mid-job."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
from pathlib import Path

import pytest

from playground import Emulator
from tests.bot.e2e.conftest import MJBOT, ROOT, BotProcess, connected, imagine, results, wait_result


def _setup_command() -> tuple[dict[str, str], list[str]]:
    """The README's main-job command, split into its variables and its words."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Set-up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    line = block.strip().splitlines()[0].split("#", 1)[0].split()
    variables = dict(word.split("=", 1) for word in line if re.match(r"^[A-Z_]+=", word))
    return variables, [word for word in line if not re.match(r"^[A-Z_]+=", word)]


async def test_readme_main_job_runs_the_bot_and_stops_cleanly(
    emu: Emulator, tmp_path: Path, shared_models: Path
) -> None:
    variables, command = _setup_command()
    assert command == ["./scripts/mjbot", "serve"]
    assert set(variables) == {"DISCORD_TOKEN", "DISCORD_GUILD_IDS"}
    bot = BotProcess(emu, tmp_path / "data", shared_models)  # real values for the placeholders
    await bot.start(*command)
    try:
        await connected(emu, bot)
        names = [c["name"] for c in emu.commands(emu.guild_id)]
        assert sorted(names) == sorted(
            {"imagine", "blend", "describe", "settings", "prefer", "fast", "relax", "turbo"}
            | {"info", "show"}
        )
        await imagine(emu, "a red fox in the snow --seed 7")
        await wait_result(emu, r"a red fox in the snow --seed 7\*\* - <@\d+> \(fast\)$")
    finally:
        code = await bot.stop(signal.SIGTERM)
    assert code == 0, bot.output()[-3000:]
    assert "Every image it makes" in bot.output()  # the loud start-up warning about
    assert "is noise" in bot.output()  # builtin:tiny
    await emu.wait_disconnected()


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
    assert "DISCORD_TOKEN: is required" in message
    assert "MJ_MAX_ACTIVE_JOBS" in message
    assert "Traceback" not in message


async def test_bot_killed_mid_job_restarts_and_delivers_each_job_once(
    emu: Emulator, tmp_path: Path, shared_models: Path
) -> None:
    data = tmp_path / "data"
    bot = BotProcess(emu, data, shared_models, MJ_STEPS="3000")  # long jobs: ~a minute each
    await bot.start()
    await connected(emu, bot)
    prompts = [f"a ship in a bottle number {i}" for i in range(3)]
    for prompt in prompts:
        await imagine(emu, prompt)

    def first_job_running() -> bool:
        with sqlite3.connect(data / "mjbot.db") as db:
            return bool(db.execute("SELECT 1 FROM jobs WHERE status = 'running'").fetchall())

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
        with sqlite3.connect(data / "mjbot.db") as db:
            rows = db.execute("SELECT prompt, status, attempts FROM jobs").fetchall()
        raise AssertionError(
            f"{error}\n--- messages ---\n{shown}\n--- jobs ---\n{rows}\n"
            f"--- bot log ---\n{bot.output()[-3000:]}"
        ) from None
    await bot.stop(signal.SIGKILL)
    await emu.wait_disconnected()
    delivered_before = {p for p in prompts if results(emu, re.escape(p) + r"\*\* - ")}
    assert len(delivered_before) < 3
    with sqlite3.connect(data / "mjbot.db") as db:
        states = dict(db.execute("SELECT prompt, status FROM jobs").fetchall())
    assert "running" in states.values()

    again = BotProcess(emu, data, shared_models, MJ_STEPS="8")
    await again.start()
    try:
        await connected(emu, again)
        for prompt in prompts:
            await wait_result(emu, re.escape(prompt) + r"\*\* - <@\d+> \(fast\)$", timeout=120)
    finally:
        assert await again.stop() == 0
    for prompt in prompts:
        assert len(results(emu, re.escape(prompt) + r"\*\* - <@\d+> \(fast\)$")) == 1
    with sqlite3.connect(data / "mjbot.db") as db:
        rows = db.execute("SELECT status, delivered, attempts FROM jobs").fetchall()
    assert {(status, delivered) for status, delivered, _ in rows} == {("done", 1)}
    assert max(attempts for *_, attempts in rows) == 2  # the interrupted one ran twice


@pytest.mark.parametrize("signum", [signal.SIGINT])
async def test_sigint_also_stops_cleanly(
    emu: Emulator, tmp_path: Path, shared_models: Path, signum: int
) -> None:
    bot = BotProcess(emu, tmp_path / "data", shared_models)
    await bot.start()
    await connected(emu, bot)
    assert await bot.stop(signum) == 0


async def test_sigterm_during_a_job_requeues_it(
    emu: Emulator, tmp_path: Path, shared_models: Path
) -> None:
    data = tmp_path / "data"
    bot = BotProcess(emu, data, shared_models, MJ_STEPS="3000")
    await bot.start()
    await connected(emu, bot)
    await imagine(emu, "a long exposure of the stars")

    def rendering() -> bool:
        with sqlite3.connect(data / "mjbot.db") as db:
            return bool(db.execute("SELECT 1 FROM jobs WHERE status = 'running'").fetchall())

    await emu.wait_for(rendering, 60, what="the job to be rendering")
    assert await bot.stop(signal.SIGTERM) == 0  # the running step is cancelled, cleanly
    with sqlite3.connect(data / "mjbot.db") as db:
        [(status, delivered)] = db.execute("SELECT status, delivered FROM jobs").fetchall()
    assert (status, delivered) == ("queued", 0)  # it runs again at the next start
    assert not results(emu, "a long exposure")
