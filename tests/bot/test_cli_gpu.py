"""GPU-worker settings and ``mjbot gpu serve``: the service a bot's MJ_GPU_URL points at."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings
from tests.gpu.cluster import free_port

TOKEN = "t0ken"  # noqa: S105 - a test service's token
WRONG = "wrong"
GPU_KEYS = ("MJ_GPU_URL", "MJ_GPU_URLS", "MJ_GPU_TOKEN", "MJ_SPEED", "MJ_BATCH", "DISCORD_TOKEN")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for key in GPU_KEYS:
        monkeypatch.delenv(key, raising=False)


def test_gpu_urls_need_the_token_and_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJ_GPU_URL", "http://gpu-a:8000/")
    with pytest.raises(SettingsError, match="MJ_GPU_TOKEN is required with MJ_GPU_URL"):
        load_settings()
    monkeypatch.setenv("MJ_GPU_TOKEN", TOKEN)
    monkeypatch.setenv("MJ_GPU_URLS", "http://gpu-b:8000, http://gpu-a:8000")
    settings = load_settings()
    assert settings.gpu_urls == ("http://gpu-a:8000", "http://gpu-b:8000")
    config = settings.engine_config()
    assert config.gpu_urls == settings.gpu_urls
    assert config.gpu_token == TOKEN
    assert settings.engine_config(local=True).gpu_urls == ()  # `mjbot gpu` renders here


def test_bad_gpu_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJ_GPU_URL", "gpu-a:8000")
    monkeypatch.setenv("MJ_SPEED", "bf16,turbo")
    monkeypatch.setenv("MJ_BATCH", "0")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "MJ_GPU_URL: Value error, 'gpu-a:8000' is not an http(s) URL" in message
    assert "MJ_SPEED" in message
    assert "unknown speed option 'turbo'" in message
    assert "MJ_BATCH" in message


def call(
    url: str, *, token: str | None, body: bytes | None = None
) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_gpu_serve_answers_with_the_token_only_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ, "MJ_GPU_TOKEN": TOKEN, "MJ_MODEL": "builtin:tiny", "MJ_DEVICE": "cpu",
        "MJ_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1", "MJ_BATCH": "2",
    }  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "gpu", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status, capacity = call(f"{base}/v1/capacity", token=TOKEN)
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "mjbot gpu serve did not come up"
                time.sleep(0.3)
        assert status == 200
        assert capacity["slots"] == 2  # one device × MJ_BATCH
        assert capacity["models"] == ["default"]
        assert call(f"{base}/v1/capacity", token=None)[0] == 401
        assert call(f"{base}/v1/capacity", token=WRONG)[0] == 401
        status, answer = call(f"{base}/v1/run", token=TOKEN, body=b'{"protocol": 1}')
        assert status == 400
        assert answer["message"] == "job and dispatch must be strings"
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_gpu_commands_need_the_token(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in GPU_KEYS}
    env["MJ_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "gpu", "serve"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "MJ_GPU_TOKEN is required" in done.stderr
