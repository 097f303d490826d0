"""The README stays true: its parameter table and its commands match the code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from parser.docs import update_readme

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_readme_parameter_table_matches_specs() -> None:
    text = README.read_text(encoding="utf-8")
    assert update_readme(text) == text, (
        "README's parameter table drifted from parser/specs.py; "
        "run `.venv/bin/python -m parser.docs README.md`"
    )


def _setup_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = text.split("## Set-up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _setup_commands()
    assert len(commands) == 2
    assert commands[0].endswith("./scripts/mjbot serve")
    assert commands[1] == "./scripts/test"


# The main-job command (`mjbot serve`) is run for real, against the Discord emulator, in
# tests/bot/e2e/test_process.py::test_readme_main_job_runs_the_bot_and_stops_cleanly.


def test_readme_console_error_example_is_real() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r'\$ \./scripts/mjbot parse "a cat --chaos 150"\n(.*?)```', text, re.S)
    assert match is not None
    result = subprocess.run(
        ["./scripts/mjbot", "parse", "a cat --chaos 150"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == match[1].strip()
