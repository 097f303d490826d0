"""The README stays true: its parameter table and its commands match the code."""

from __future__ import annotations

import os
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
    assert commands[1] == "./scripts/test"


def test_readme_main_job_command_runs(tmp_path: Path) -> None:
    main_job = _setup_commands()[0]
    out = ROOT / "grid.png"
    env = {**os.environ, "MJ_DATA_DIR": str(tmp_path)}
    env.pop("MJ_MODEL", None)
    try:
        result = subprocess.run(
            ["bash", "-c", main_job],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        assert "seeds 7 8 9 10" in result.stdout
        assert out.stat().st_size > 0
    finally:
        out.unlink(missing_ok=True)


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
