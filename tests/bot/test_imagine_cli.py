"""`mjbot imagine`: a real grid file from the command line, through parser and engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

MJBOT = Path(sys.executable).with_name("mjbot")


def run(
    args: list[str], data_dir: Path, *, model: str | None = "builtin:tiny", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``mjbot imagine ARGS`` with ``MJ_MODEL=model`` (``None``: unset, the default model)."""
    env = {**os.environ, "MJ_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    env.pop("MJ_MODEL", None)
    if model is not None:
        env["MJ_MODEL"] = model
    return subprocess.run(
        [str(MJBOT), "imagine", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


def test_imagine_cli_writes_a_reproducible_grid(tmp_path: Path, data_dir: Path) -> None:
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    result = run(["a red fox --ar 16:9", "--out", str(first), "--seed", "42"], data_dir)
    assert result.returncode == 0, result.stderr
    assert "seeds 42 43 44 45" in result.stdout
    assert result.stderr.count("100%") == 1  # drawn once, not once per report
    run(["a red fox --ar 16:9 --seed 42", "--out", str(second)], data_dir)
    with Image.open(first) as grid:
        assert grid.size == (672, 384)  # 2×2 cells of 336×192 (16:9 at the tiny model's 256)
    assert first.read_bytes() == second.read_bytes()
    assert any(p.name.startswith("builtin-tiny-sd") for p in (data_dir / "models").iterdir())


def test_imagine_cli_permutations_write_one_file_each(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "fox.png"
    result = run(["a {red, blue} fox --seed 1", "--out", str(out)], data_dir)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fox-1.png").exists()
    assert (tmp_path / "fox-2.png").exists()


def test_imagine_cli_errors(tmp_path: Path, data_dir: Path) -> None:
    bad_prompt = run(["a fox --chaos 300", "--out", str(tmp_path / "x.png")], data_dir)
    assert bad_prompt.returncode == 2
    assert "--chaos must be between 0 and 100" in bad_prompt.stderr
    bad_model = run(
        ["a fox", "--out", str(tmp_path / "x.png"), "--model", str(tmp_path / "missing")], data_dir
    )
    assert bad_model.returncode == 1
    assert "does not exist" in bad_model.stderr
    assert "Traceback" not in bad_model.stderr


def test_imagine_cli_uses_style_codes(tmp_path: Path, data_dir: Path) -> None:
    plain, styled = tmp_path / "plain.png", tmp_path / "styled.png"
    assert run(["a red fox --seed 5", "--out", str(plain)], data_dir).returncode == 0
    result = run(["a red fox --seed 5 --sref 1234 --sw 800", "--out", str(styled)], data_dir)
    assert result.returncode == 0, result.stderr
    assert "--sref 1234 --sw 800" in result.stdout
    assert plain.read_bytes() != styled.read_bytes()


def test_imagine_cli_default_model_draws_the_prompt(tmp_path: Path, data_dir: Path) -> None:
    """A fresh user's first command: no MJ_MODEL, no --out. The built-in shapes model draws
    red circles on the left of a blue background, read back by the automatic judge."""
    from engine.shapes.judge import read

    prompt = "a red circle on the left, blue background"
    result = run([prompt, "--seed", "3"], data_dir, model=None, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "builtin:shapes: a small built-in model that draws coloured shapes" in result.stderr
    out = tmp_path / "a-red-circle-on-the-left-blue-background.png"
    assert out.name in result.stdout
    with Image.open(out) as grid:
        width, height = grid.size
        cells = [
            grid.crop((x, y, x + width // 2, y + height // 2))
            for y in (0, height // 2)
            for x in (0, width // 2)
        ]
        readings = [read(cell) for cell in cells]
    for reading in readings:
        assert reading.background.colour == "blue"
        assert reading.objects, "no object drawn"
        biggest = reading.objects[0]
        assert (biggest.colour, biggest.shape, biggest.position) == ("red", "circle", "left")
