"""`mjbot portrait`: a verdict line per photo, a face LoRA kept with its metadata (the photos'
hashes, never the photos), too few usable photos refused with exit 2, and a ranked grid."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

MJBOT = Path(sys.executable).with_name("mjbot")


def run(
    args: list[str], cwd: Path, model: str = "builtin:tiny"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MJ_DATA_DIR": str(cwd / "data"), "MJ_MODEL": model}
    return subprocess.run(
        [str(MJBOT), "portrait", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    astronaut = Image.fromarray(data.astronaut())
    astronaut.save(folder / "a1.png")
    astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "a2.jpg", quality=90)
    astronaut.crop((40, 0, 472, 432)).save(folder / "a3.png")
    Image.new("RGB", (300, 200), (100, 120, 140)).save(folder / "wall.png")
    return folder


def test_train_then_imagine(photos: Path) -> None:
    given = ["a1.png", "wall.png", "a2.jpg", "a3.png"]
    trained = run(["train", *given, "--name", "me", "--steps", "30"], photos)
    assert trained.returncode == 0, trained.stderr
    lines = trained.stdout.splitlines()
    assert lines[:4] == ["a1.png: kept", "wall.png: no face found", "a2.jpg: kept", "a3.png: kept"]
    assert lines[4].startswith("portrait me: 30 steps on 3 photos")
    folder = photos / "data" / "portraits" / "0" / "me"
    assert sorted(p.name for p in folder.iterdir()) == [
        "best.png",
        "lora.safetensors",
        "portrait.json",
    ]
    meta = json.loads((folder / "portrait.json").read_text())
    kept = ("a1.png", "a2.jpg", "a3.png")
    expected = [hashlib.sha256((photos / n).read_bytes()).hexdigest() for n in kept]
    assert (meta["base_model"], meta["steps"], meta["photos"]) == ("builtin:tiny", 30, expected)
    assert len(meta["embedding"]) == 128

    made = run(["imagine", "me", "in a garden", "--seed", "4", "--out", "me.png"], photos)
    assert made.returncode == 0, made.stderr
    with Image.open(photos / "me.png") as grid:
        assert grid.size == (512, 512)  # four 256² candidates
    # The tiny model draws noise: no candidate has a face, each is named as dropped.
    assert "0 of 8 candidates with one clear face" in made.stdout
    assert "seed 4: no face" in made.stdout


def test_too_few_usable_photos_and_a_shapes_model_are_refused(photos: Path) -> None:
    few = run(["train", "a1.png", "wall.png", "a2.jpg", "--name", "few"], photos)
    assert few.returncode == 2
    assert few.stderr.strip().splitlines()[-1] == "error: 2 photos kept; at least 3 are needed"
    assert not (photos / "data" / "portraits" / "0" / "few").exists()
    shapes = run(["train", "a1.png", "a2.jpg", "a3.png", "--name", "s"], photos, "builtin:shapes")
    assert shapes.returncode == 2
    assert "draws only shapes: set MJ_MODEL" in shapes.stderr
    missing = run(["imagine", "nobody", "x"], photos)
    assert missing.returncode == 2
    assert "no portrait named 'nobody'" in missing.stderr
