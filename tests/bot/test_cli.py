"""The `mjbot` command line: `parse` output, exit codes, and a light start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

MJBOT = Path(sys.executable).with_name("mjbot")


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["parse", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_cli_parse_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(
        capsys,
        "https://x.com/a.png a {red, blue} fox::2 snow --ar 16:9 --no text --sref "
        "random::2 --sw 50 --niji --tile --relax --q .5",
    )
    assert code == 0
    prompts = out["prompts"]
    assert isinstance(prompts, list)
    assert len(prompts) == 2
    first = prompts[0]
    assert first["images"] == [{"url": "https://x.com/a.png", "weight": 1.0}]
    assert first["parts"] == [{"text": "a red fox", "weight": 2.0}, {"text": "snow", "weight": 1.0}]
    assert first["params"] == {
        "aspect": [16, 9],
        "no": ["text"],
        "sref": [{"ref": "random", "weight": 2.0}],
        "sw": 50,
        "niji": None,
        "tile": True,
        "mode": "relax",
        "quality": 0.5,
    }
    assert first["canonical"] == (
        "<https://x.com/a.png> a red fox::2 snow --ar 16:9 --no text "
        "--sref random::2 --sw 50 --niji --tile --relax --q .5"
    )


def test_cli_parse_json_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(capsys, "a cat --chaos 150")
    assert code == 2
    assert out == {
        "error": {
            "message": "--chaos must be between 0 and 100, not 150",
            "start": 14,
            "end": 17,
            "parameter": "chaos",
            "hint": None,
            "origin": "prompt",
            "suggestions": [],
        }
    }


def test_cli_parse_suffix_and_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(capsys, "a cat --mine", "--suffix", "--ar 2:3", "--option", "mine=--tile")
    assert code == 0
    assert out["prompts"][0]["params"] == {"tile": True, "aspect": [2, 3]}  # type: ignore[index]


def test_cli_parse_table_and_rendered_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", "a cat --ar 16:9"]) == 0
    assert "aspect  16:9" in capsys.readouterr().out
    assert main(["parse", "a cat --ar16:9"]) == 2
    err = capsys.readouterr().err
    assert "cat --ar16:9\n          ^~~~~~~~" in err
    assert "hint: Write --ar 16:9" in err


def test_cli_console_script_and_help() -> None:
    result = subprocess.run([str(MJBOT), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "parse" in result.stdout


def test_cli_start_up_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, bot.cli; bot.cli.main(['parse', 'a cat --ar 1:1']); "
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'discord', 'sqlalchemy')"
        " if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
