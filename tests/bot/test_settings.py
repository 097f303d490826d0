"""Settings: one readable message listing every missing or invalid key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for key in (
        "DISCORD_TOKEN",
        "DISCORD_GUILD_IDS",
        "MJ_MODEL",
        "MJ_MODELS",
        "MJ_MAX_ACTIVE_JOBS",
        "MJ_FETCH_ALLOW_HOSTS",
        "MJ_DATA_DIR",
    ):
        monkeypatch.delenv(key, raising=False)


def test_settings_without_a_token_mean_the_local_playground() -> None:
    settings = load_settings()
    assert settings.discord_token is None
    assert (settings.mj_playground_host, settings.mj_playground_port) == ("127.0.0.1", 8081)


def test_settings_lists_every_problem_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MJ_MAX_ACTIVE_JOBS", "0")
    monkeypatch.setenv("MJ_BANNED_WORDS_FILE", "/nowhere/words.txt")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "MJ_MAX_ACTIVE_JOBS" in message
    assert "MJ_BANNED_WORDS_FILE" in message


def test_settings_parse_lists_and_maps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t0k3n-s3cr3t")
    monkeypatch.setenv("DISCORD_GUILD_IDS", "1, 2,3")
    monkeypatch.setenv("MJ_FETCH_ALLOW_HOSTS", "127.0.0.1:8080, cdn.local")
    monkeypatch.setenv("MJ_MODELS", '{"6": "/models/sdxl", "niji": "/models/anime"}')
    monkeypatch.setenv("MJ_DATA_DIR", "/srv/mj")
    settings = load_settings()
    assert settings.discord_guild_ids == [1, 2, 3]
    assert settings.mj_fetch_allow_hosts == ["127.0.0.1:8080", "cdn.local"]
    assert settings.models == {
        "default": "builtin:shapes",
        "6": "/models/sdxl",
        "niji": "/models/anime",
    }
    assert settings.database_url == "sqlite+aiosqlite:////srv/mj/mjbot.db"
    assert settings.discord_token.get_secret_value() == "t0k3n-s3cr3t"
    assert "t0k3n-s3cr3t" not in repr(settings)


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "t0k3n-s3cr3t")
    settings = load_settings()
    assert settings.discord_api_base_url == "https://discord.com/api/v10"
    assert settings.discord_gateway_url == "wss://gateway.discord.gg/"
    assert (settings.mj_max_active_jobs, settings.mj_max_queued_jobs) == (3, 10)
    assert settings.mj_model == "builtin:shapes"  # draws what it is asked; tests use tiny


def test_settings_empty_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "  ")
    with pytest.raises(SettingsError, match="DISCORD_TOKEN: Value error, is empty"):
        load_settings()


def test_env_example_documents_every_setting() -> None:
    from bot.config import Settings

    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text(encoding="utf-8")
    documented = {
        line.lstrip("# ").split("=", 1)[0]
        for line in example.splitlines()
        if "=" in line and line.lstrip("# ").split("=", 1)[0].isupper()
    }
    assert documented == {name.upper() for name in Settings.model_fields}


def test_house_style_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.house_style import DEFAULT_HOUSE_STYLES

    assert load_settings().house_styles is DEFAULT_HOUSE_STYLES
    monkeypatch.setenv("MJ_HOUSE_STYLE", "")
    monkeypatch.setenv("MJ_HOUSE_GUIDANCE", "1.5")
    styles = load_settings().house_styles
    assert (styles.default.positive, styles.default.guidance) == ("", 1.5)
    assert styles.default.negative == DEFAULT_HOUSE_STYLES.default.negative
    assert styles.niji == DEFAULT_HOUSE_STYLES.niji
