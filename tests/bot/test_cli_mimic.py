"""`mjbot mimic`: a reference edit from the command line (built-in MimicBrush), a grid whose
cells keep the source outside the region, and one-line errors for bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

MJBOT = Path(sys.executable).with_name("mjbot")
SIZE = (96, 64)
REGION = (30, 16, 70, 48)


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MJ_DATA_DIR": str(cwd / "data"), "HF_HUB_OFFLINE": "1"}
    env.pop("MJ_MIMICBRUSH", None)
    return subprocess.run(
        [str(MJBOT), "mimic", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=600,
    )


@pytest.fixture
def images(tmp_path: Path) -> Path:
    source = Image.new("RGB", SIZE, (30, 120, 200))
    source.paste((220, 40, 40), (0, 0, 40, 30))
    source.save(tmp_path / "photo.png")
    mask = Image.new("L", SIZE, 0)
    mask.paste(255, REGION)
    mask.save(tmp_path / "mask.png")
    noise = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "ref.jpg")
    return tmp_path


def test_mimic_cli_writes_a_grid_of_edits_keeping_the_outside(images: Path) -> None:
    args = ["photo.png", "--mask", "mask.png", "--reference", "ref.jpg", "--seed", "5"]
    result = run([*args, "--steps", "2", "--keep-shape"], images)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("photo-mimic.png  192×128  seeds 5 6 7 8  ")
    assert "fallback on the configured model" in result.stderr  # no MJ_MIMICBRUSH here
    source = np.asarray(Image.open(images / "photo.png"))
    outside = np.ones(SIZE[::-1], bool)
    left, top, right, bottom = REGION
    outside[top:bottom, left:right] = False
    with Image.open(images / "photo-mimic.png") as grid:
        cells = [
            np.asarray(grid.crop((x, y, x + SIZE[0], y + SIZE[1])).convert("RGB"))
            for y in (0, SIZE[1])
            for x in (0, SIZE[0])
        ]
    for cell in cells:
        changed = (cell != source).any(axis=-1)
        assert changed[outside].sum() == 0
        assert changed[~outside].mean() > 0.9
    # The same seed gives the same grid.
    again = run([*args, "--steps", "2", "--keep-shape", "--out", "again.png"], images)
    assert again.returncode == 0, again.stderr
    assert (images / "again.png").read_bytes() == (images / "photo-mimic.png").read_bytes()


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        ((10, 10, 0), "error: mask: 10×10, but the source is 96×64; the mask must be the "),
        ((96, 64, 0), "error: the mask is empty: paint the region to repaint in white"),
        ((96, 64, 255), "error: the region covers 100% of the image"),
    ],
)
def test_mimic_cli_bad_masks_exit_2_with_one_line(
    images: Path, mask: tuple[int, int, int], message: str
) -> None:
    width, height, value = mask
    Image.new("L", (width, height), value).save(images / "bad.png")
    result = run(["photo.png", "--mask", "bad.png", "--reference", "ref.jpg"], images)
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (images / "photo-mimic.png").exists()


def test_mimic_cli_unreadable_files_are_named(images: Path) -> None:
    (images / "notes.png").write_text("not an image")
    missing = run(["photo.png", "--mask", "mask.png", "--reference", "nowhere.png"], images)
    assert (missing.returncode, missing.stderr.strip()) == (
        2,
        "error: reference: no such file: nowhere.png",
    )
    broken = run(["photo.png", "--mask", "mask.png", "--reference", "notes.png"], images)
    assert broken.returncode == 2
    assert broken.stderr.startswith("error: reference: "), broken.stderr
    assert "Traceback" not in broken.stderr
