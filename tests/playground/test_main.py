"""`python -m playground`: serves the page and the API, prints how to connect a bot, warns
when it listens beyond this machine, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


async def _start(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "playground",
        "--data",
        str(tmp_path / "data"),
        "--env-file",
        str(tmp_path / "bot.env"),
        *args,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("MJ_")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _settings(tmp_path: Path, process: asyncio.subprocess.Process) -> dict[str, str]:
    env_file = tmp_path / "bot.env"
    for _ in range(600):
        if env_file.exists() and env_file.read_text().endswith("\n"):
            return dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        assert process.returncode is None
        await asyncio.sleep(0.05)
    raise AssertionError("python -m playground wrote no settings in 30 s")


async def test_serves_the_page_and_the_api_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = await _start(tmp_path, "--port", "0")
    try:
        settings = await _settings(tmp_path, process)
        base = settings["DISCORD_API_BASE_URL"].removesuffix("/api/v10")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/") as page:
                assert page.status == 200
                assert "<title>mjbot playground</title>" in await page.text()
            headers = {"Authorization": f"Bot {settings['DISCORD_TOKEN']}"}
            async with http.get(f"{base}/api/v10/users/@me", headers=headers) as me:
                assert (await me.json())["username"] == "mjbot"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert f"Open {base}/ to use the playground." in out.decode()
    assert "other machines can reach" not in err.decode()
    assert (tmp_path / "data" / "playground.db").exists()


async def test_a_network_address_gets_a_loud_warning(tmp_path: Path) -> None:
    process = await _start(tmp_path, "--port", "0", "--host", "0.0.0.0")  # noqa: S104
    try:
        settings = await _settings(tmp_path, process)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert "which other machines can reach" in err.decode()
    assert "It has no login" in err.decode()
    # the bot is told a loopback address, not the wildcard
    assert settings["DISCORD_GATEWAY_URL"].startswith("ws://127.0.0.1:")


async def test_a_bad_port_is_refused_with_the_reason(tmp_path: Path) -> None:
    process = await _start(tmp_path, "--port", "99999")
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert "a port is 0–65535 (0: any free port), not '99999'" in err.decode()


async def test_the_package_imports_none_of_the_bot_s_packages_nor_discord() -> None:
    modules = [
        f"playground.{path.stem}"
        for path in (ROOT / "playground").glob("*.py")
        if path.stem not in ("__init__", "__main__")
    ]
    code = (
        f"import sys, playground, {', '.join(modules)}\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & {'parser', 'engine', 'db', 'bot', 'discord'}))"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    assert out.decode().strip() == "[]"
