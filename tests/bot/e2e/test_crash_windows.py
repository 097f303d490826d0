"""An acknowledged command is never lost: kill -9 right after the acknowledgement, restart,
and every job is delivered exactly once — or, when its reference cannot be fetched, fails
visibly exactly once. The user's "thinking…" answer does not stay forever either."""

from __future__ import annotations

import asyncio
import io
import re
import signal
from pathlib import Path

from PIL import Image

from playground import Emulator
from playground.models import InteractionRecord
from tests.bot.e2e.conftest import BotDatabase, BotProcess, connected, imagine, results

DELAYS_S = (0.0, 0.05, 0.2)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def _failures(emu: Emulator, prompt: str, record: InteractionRecord) -> int:
    """How often the user was shown that ``prompt``'s link cannot be used: in the channel
    (its waiting message, failed) or in the command's own answer (an "Invalid link" embed)."""
    in_channel = [
        m
        for m in emu.messages()
        if prompt in m.content and "(Failed: Could not use" in m.content and not m.deleted
    ]
    answer = record.original_message
    answered = (
        answer is not None
        and not answer.deleted
        and [e for e in answer.embeds if e.get("title") == "Invalid link"]
    )
    return len(in_channel) + bool(answered)


async def test_kill_after_the_acknowledgement_loses_nothing(
    emu: Emulator, database: BotDatabase, tmp_path: Path, shared_models: Path
) -> None:
    data = tmp_path / "data"
    good = emu.host_file("/refs/red.png", _png(), "image/png")
    missing = f"{emu.http_base}/files/refs/missing.png"
    env = {"MJ_STEPS": "4", "MJ_FETCH_ALLOW_HOSTS": f"127.0.0.1:{emu.port}"}
    bot = BotProcess(emu, database, data, shared_models, **env)
    await bot.start()
    await connected(emu, bot)
    delivered: list[str] = []
    failing: dict[str, InteractionRecord] = {}
    # Each trial: a command, kill -9 some milliseconds after Discord got the acknowledgement,
    # and a new process, whose recovery must finish what the last one left before the next
    # trial (a job killed in three processes running is failed on purpose, as a poison job).
    try:
        for number, delay in enumerate(DELAYS_S * 3):
            kind = number // len(DELAYS_S)  # 0: plain, 1: with a reference, 2: a broken link
            prompt = f"a lantern number {number}"
            text = {0: prompt, 1: f"{good} {prompt}", 2: f"{missing} {prompt}"}[kind]
            record = await imagine(emu, text)
            await emu.wait_for(lambda r=record: r.acknowledged, 10, what="the acknowledgement")
            await asyncio.sleep(delay)
            await bot.stop(signal.SIGKILL)
            await emu.wait_disconnected()
            bot = BotProcess(emu, database, data, shared_models, **env)
            await bot.start()
            await connected(emu, bot)
            if kind == 2:
                failing[prompt] = record
                await emu.wait_for(
                    lambda p=prompt, r=record: _failures(emu, p, r), 60, what=f"{prompt!r} failing"
                )
            else:
                delivered.append(prompt)
                pattern = re.escape(prompt) + r"\*\* - <@\d+> \(fast\)$"
                await emu.wait_for(
                    lambda p=pattern: results(emu, p), 120, what=f"{prompt!r} delivered"
                )
        await asyncio.sleep(2)  # nothing more may come
    finally:
        assert await bot.stop() == 0, bot.output()[-3000:]
    for prompt in delivered:
        assert len(results(emu, re.escape(prompt) + r"\*\* - <@\d+> \(fast\)$")) == 1, prompt
    for prompt, record in failing.items():
        assert _failures(emu, prompt, record) == 1, prompt
    rows = database.rows("SELECT prompt, status FROM jobs")
    states = {p: [s for prompt, s in rows if prompt.endswith(p)] for p in [*delivered, *failing]}
    assert {p: states[p] for p in delivered} == {p: ["done"] for p in delivered}
    assert {p: states[p] for p in failing} == {p: ["failed"] for p in failing}
    # No "thinking…" answer was left behind: each was replaced or deleted.
    assert not [m for m in emu.messages() if m.loading and not m.deleted]
