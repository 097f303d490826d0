"""`mjbot transfer`: a real style transfer from the command line, and its one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

MJBOT = Path(sys.executable).with_name("mjbot")


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MJ_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    env.pop("MJ_VGG19", None)
    return subprocess.run(
        [str(MJBOT), "transfer", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )


def picture(path: Path, colour: str, size: tuple[int, int]) -> Path:
    image = Image.new("RGB", size, colour)
    image.paste("white", (0, 0, size[0] // 2, size[1] // 3))
    image.save(path)
    return path


def test_transfer_cli_writes_the_result_at_the_asked_size(tmp_path: Path) -> None:
    content = picture(tmp_path / "content.png", "darkgreen", (128, 64))
    style = picture(tmp_path / "style.jpg", "orange", (80, 80))
    out = tmp_path / "out.png"
    args = [str(content), str(style), "--out", str(out), "--steps", "2", "--seed", "3"]
    result = run([*args, "--size", "96", "--strength", "300"], tmp_path / "data")
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        assert (image.format, image.size) == ("PNG", (96, 48))
    assert result.stdout.startswith(f"{out}  96×48  seed 3  ")
    assert "100%" in result.stderr  # the progress bar finished


def test_transfer_cli_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    content = picture(tmp_path / "content.png", "navy", (64, 64))
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    out = tmp_path / "out.png"
    cases = {
        "missing": ([str(tmp_path / "nope.png"), str(content)], "error: content: no such file: "),
        "not an image": ([str(content), str(notes)], f"error: style: {notes}: "),
        "identical": ([str(content), str(content)], "error: content and style are the same"),
        "strength": ([str(content), str(notes), "--strength", "1001"], "error: strength must"),
        "size": ([str(content), str(notes), "--size", "4000"], "error: size must be 64–2048"),
    }
    for name, (args, start) in cases.items():
        result = run([*args, "--out", str(out)], tmp_path / "data")
        assert result.returncode == 2, (name, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (name, lines)
        assert lines[0].startswith(start), (name, lines)
    assert not out.exists()


def test_transfer_cli_refusals_do_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys, bot.cli; "
        f"code = bot.cli.main(['transfer', 'nope.png', 'nope.png', '--out', {str(tmp_path)!r}]); "
        "print(code, 'torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "2 False"
