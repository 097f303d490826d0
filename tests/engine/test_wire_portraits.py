"""Portraits on the wire: the files of every portrait a request uses travel with it (checked
by sha256, written atomically under the worker's own portraits root), its paths are relative
to each side's root, and a training's new folder comes back with its result."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from engine.loras import LoraUse
from engine.remote.blobs import read_portraits, write_portraits
from engine.remote.wire import (
    WireError,
    decode_request,
    decode_result,
    encode_request,
    encode_result,
)
from engine.request import (
    EffectiveParameters,
    FaceTrainingSpec,
    GenerationRequest,
    GenerationResult,
    Operation,
    PortraitSpec,
    Strength,
)

FILES = {"lora.safetensors": b"\x00lora-weights" * 100, "best.png": b"png", "portrait.json": b"{}"}


def portrait(root: Path, owner: str, name: str, files: dict[str, bytes] = FILES) -> Path:
    folder = root / owner / name
    folder.mkdir(parents=True)
    for file, data in files.items():
        (folder / file).write_bytes(data)
    (folder / "notes.txt").write_text("not a portrait file: never sent")
    return folder


def wired(body: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(body))


def test_a_portraits_job_and_a_face_lora_child_bring_their_files(tmp_path: Path) -> None:
    bot, worker = tmp_path / "bot", tmp_path / "worker"
    folder = portrait(bot, "7", "me")
    portrait(bot, "9", "other")  # not used: not sent
    job = GenerationRequest(
        operation=Operation.PORTRAIT,
        portrait=PortraitSpec(folder, "portrait:7/me"),
        loras=(LoraUse("portrait:7/me", 0.9), LoraUse("film", 0.4)),
    )
    body = wired(encode_request(job, "j", "d", portraits=bot))
    assert body["request"]["portrait"]["folder"] == {"$portraits": "7/me"}
    assert sorted(body["portraits"]) == ["7/me"]
    request, _, _, files = decode_request(body, portraits=worker)
    assert request.portrait is not None
    assert request.portrait.folder == worker / "7" / "me"
    assert files == {"7/me": FILES}
    write_portraits(worker, files)
    assert {p.name: p.read_bytes() for p in (worker / "7" / "me").iterdir()} == FILES
    # a variation of its grid names the face LoRA only: the folder's files travel too
    child = GenerationRequest(
        operation=Operation.VARIATION,
        strength=Strength.SUBTLE,
        source=Image.new("RGB", (8, 8)),
        loras=(LoraUse("portrait:7/me", 0.9),),
    )
    _, _, _, files = decode_request(wired(encode_request(child, "j", "d", portraits=bot)))
    assert files == {"7/me": FILES}
    # nothing of a portrait: nothing extra
    assert "portraits" not in encode_request(GenerationRequest(), "j", "d", portraits=bot)


def test_a_retrained_portrait_replaces_the_workers_copy(tmp_path: Path) -> None:
    bot, worker = tmp_path / "bot", tmp_path / "worker"
    portrait(bot, "7", "me")
    write_portraits(worker, read_portraits(bot, ["7/me"]))
    newer = {**FILES, "lora.safetensors": b"retrained"}
    (bot / "7" / "me" / "lora.safetensors").write_bytes(newer["lora.safetensors"])
    write_portraits(worker, read_portraits(bot, ["7/me"]))
    assert (worker / "7" / "me" / "lora.safetensors").read_bytes() == b"retrained"
    assert sorted(p.name for p in (worker / "7" / "me").iterdir()) == sorted(FILES)  # no temps


def test_a_training_trains_under_the_workers_root_and_its_folder_comes_back(
    tmp_path: Path,
) -> None:
    bot, worker = tmp_path / "bot", tmp_path / "worker"
    training = GenerationRequest(
        operation=Operation.FACE_TRAINING,
        training=FaceTrainingSpec(
            photos=(Image.new("RGB", (16, 16), (9, 9, 9)),),
            photo_hashes=("ab",),
            name="me",
            root=bot / "7",
        ),
    )
    body = wired(encode_request(training, "j", "d", portraits=bot))
    assert body["request"]["training"]["root"] == {"$portraits": "7"}
    request, _, _, _ = decode_request(body, portraits=worker)
    assert request.training is not None
    assert request.training.root == worker / "7"
    portrait(worker, "7", "me")  # what the training wrote there
    parameters = EffectiveParameters.without_diffusion_prompt(
        Operation.FACE_TRAINING, steps=6, size=(16, 16), sampler="-"
    )
    result = GenerationResult((Image.new("RGB", (16, 16)),), (0,), 16, 16, 6, "m", 1.0, parameters)
    data = wired(encode_result(result, read_portraits(worker, ["7/me"])))
    back, files = decode_result(data)
    assert back.steps_run == 6
    write_portraits(bot, files)
    assert {p.name: p.read_bytes() for p in (bot / "7" / "me").iterdir()} == FILES


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b["portraits"]["7/me"]["lora.safetensors"].update(data="AAAA"), "sha256"),
        (
            lambda b: b["portraits"]["7/me"].update({"../../etc.py": {"sha256": "0", "data": ""}}),
            r"portraits\.7/me/\.\./\.\./etc\.py: not a portrait file",
        ),
        (lambda b: b["portraits"].update({"../x": {}}), r"'\.\./x' is not a portrait"),
        (
            lambda b: b["request"]["portrait"].update(folder={"$portraits": "7/../../etc"}),
            r"request\.portrait\.folder: '7/\.\./\.\./etc' is not a portrait folder",
        ),
    ],
)
def test_tampered_portraits_are_refused_naming_the_field(
    tmp_path: Path, change: Any, message: str
) -> None:
    bot = tmp_path / "bot"
    folder = portrait(bot, "7", "me")
    job = GenerationRequest(
        operation=Operation.PORTRAIT,
        portrait=PortraitSpec(folder, "portrait:7/me"),
        loras=(LoraUse("portrait:7/me", 0.9),),
    )
    body = wired(encode_request(job, "j", "d", portraits=bot))
    change(body)
    with pytest.raises(WireError, match=message):
        decode_request(body, portraits=tmp_path / "worker")


def test_a_worker_without_a_portraits_root_says_so(tmp_path: Path) -> None:
    folder = portrait(tmp_path, "7", "me")
    job = GenerationRequest(operation=Operation.PORTRAIT, portrait=PortraitSpec(folder, "x"))
    body = wired(encode_request(job, "j", "d", portraits=tmp_path))
    with pytest.raises(WireError, match="keeps no portraits"):
        decode_request(body, portraits=None)
    digest = hashlib.sha256(FILES["best.png"]).hexdigest()
    assert body["portraits"]["7/me"]["best.png"]["sha256"] == digest


async def test_a_workers_copy_lives_while_a_run_uses_it(tmp_path: Path) -> None:
    from engine.engine import Engine, EngineConfig
    from engine.gpu.service import GpuService

    worker = tmp_path / "worker"
    engine = Engine(
        EngineConfig(devices=("cpu",), cache_dir=tmp_path / "models", portrait_dir=worker)
    )
    service = GpuService(engine, "token", slots=2)
    folder = portrait(tmp_path / "bot", "7", "me")
    job = GenerationRequest(
        operation=Operation.PORTRAIT,
        portrait=PortraitSpec(folder, "portrait:7/me"),
        loras=(LoraUse("portrait:7/me", 0.9),),
    )
    body = wired(encode_request(job, "j", "d", portraits=tmp_path / "bot"))
    first, second = service.decode(body), service.decode(body)
    await service.prepare(first)
    await service.prepare(second)
    copy = worker / "7" / "me"
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == FILES
    service._release(first)
    assert copy.is_dir()  # the second run still needs it
    service._release(second)
    assert not (worker / "7").exists()
    service._release(second)  # more releases than runs delete nothing further
    assert worker.is_dir()


def test_a_new_worker_folder_sweeps_the_empty_ones_killed_workers_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from engine.gpu.service import portraits_folder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    left = tmp_path / "mjbot-portraits-killed"
    left.mkdir()
    busy = portrait(tmp_path / "mjbot-portraits-busy", "7", "me").parent.parent
    other = tmp_path / "not-ours"
    other.mkdir()
    made = portraits_folder()
    assert made.parent == tmp_path
    assert made.name.startswith("mjbot-portraits-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([made.name, busy.name, other.name])
