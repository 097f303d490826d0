"""`mjbot retexture` and `mjbot background`: a 2×2 grid of cells at the image's size, how the
structure was kept (a ControlNet, or the fallback — said), the subject kept exactly, and bad
input refused with exit 2 naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

MJBOT = Path(sys.executable).with_name("mjbot")


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "MJ_DATA_DIR": str(cwd / "data"), "MJ_MODEL": "builtin:tiny"}
    environment.pop("MJ_CONTROLNETS", None)
    return subprocess.run(
        [str(MJBOT), *args, "--steps", "3", "--seed", "7"],
        capture_output=True,
        text=True,
        env={**environment, **env},
        cwd=cwd,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("structure")
    drawing = Image.new("RGB", (144, 112), "white")
    ImageDraw.Draw(drawing).rectangle((20, 20, 100, 90), outline="black", width=4)
    drawing.save(where / "sketch.png")
    rng = np.random.default_rng(3)
    product = Image.new("RGB", (144, 112), (220, 220, 225))
    mask = Image.new("L", product.size, 0)
    ImageDraw.Draw(mask).ellipse((40, 20, 100, 100), fill=255)
    product.paste(
        Image.fromarray(rng.integers(0, 255, (112, 144, 3), dtype=np.uint8)), (0, 0), mask
    )
    product.save(where / "product.png")
    mask.save(where / "mask.png")
    mask.resize((50, 50)).save(where / "small-mask.png")
    return where


def test_retexture_writes_the_grid_and_says_how(folder: Path) -> None:
    nets = json.dumps({"edges": "builtin:tiny"})
    made = run(
        ["retexture", "sketch.png", "a brick wall", "--out", "r.png", "--strength", "80"],
        folder,
        MJ_CONTROLNETS=nets,
    )
    assert made.returncode == 0, made.stderr
    assert "edges via ControlNet builtin:tiny" in made.stdout
    with Image.open(folder / "r.png") as grid:
        assert grid.size == (2 * 144, 2 * 112)
    loose = run(["retexture", "sketch.png", "a brick wall", "--out", "f.png"], folder)
    assert loose.returncode == 0, loose.stderr
    assert "edges kept by the fallback (no ControlNet configured)" in loose.stdout


def test_background_keeps_the_subject_exactly(folder: Path) -> None:
    made = run(
        ["background", "product.png", "a marble table", "--mask", "mask.png", "--out", "b.png"],
        folder,
    )
    assert made.returncode == 0, made.stderr
    assert "subject 24% of the image kept" in made.stdout  # π/4 · 61 · 81 of 144 · 112
    source = np.asarray(Image.open(folder / "product.png").convert("RGB"))
    inner = np.asarray(Image.open(folder / "mask.png").filter(ImageFilter.MinFilter(9))) > 127
    with Image.open(folder / "b.png") as grid:
        cell = np.asarray(grid.convert("RGB").crop((0, 0, 144, 112)))
    assert int((cell[inner] != source[inner]).any(axis=-1).sum()) == 0
    assert np.abs(cell[~inner].astype(int) - source[~inner]).mean() > 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["retexture", "nope.png", "x"], "error: image: no such file: nope.png"),
        (["retexture", "sketch.png", "x", "--strength", "150"], "strength must be 0–100"),
        (["retexture", "sketch.png", "x --ar 99:1"], "error: prompt:"),
        (
            ["background", "product.png", "x", "--mask", "small-mask.png"],
            "error: mask: 50×50, but the image is 144×112",
        ),
    ],
)
def test_bad_input_is_refused_by_name(folder: Path, args: list[str], message: str) -> None:
    refused = run(args, folder)
    assert refused.returncode == 2
    assert message in refused.stderr
