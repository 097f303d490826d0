"""The portrait operations on the engine's worker: a face training (photos → the portrait's
folder, the aligned crops as its preview and result, progress that only rises) and portraits
(candidates ranked by likeness, the best four kept with their seeds and similarities). A job
after either renders exactly as before."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine import Engine, EngineConfig
from engine.errors import InvalidRequestError
from engine.loras import LoraLibrary, LoraUse, portrait_lora
from engine.models import LoadedModel
from engine.portrait.faces import Face
from engine.portrait.imagine import FACE_WEIGHT, imagine_portraits, person_prompt, run_portraits
from engine.portrait.library import load_portrait, token_for
from engine.request import (
    FaceTrainingSpec,
    GenerationRequest,
    Operation,
    PortraitSpec,
    Progress,
    WeightedText,
)

OWNER = 7


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def photos() -> tuple[tuple[Image.Image, ...], tuple[str, ...]]:
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    given = (
        astronaut,
        Image.new("RGB", (300, 200), (100, 120, 140)),  # a wall: no face
        astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        astronaut.crop((40, 0, 472, 432)),
    )
    return given, tuple(hashlib.sha256(_png(photo)).hexdigest() for photo in given)


def _training(
    photos: tuple[Image.Image, ...], hashes: tuple[str, ...], root: Path, steps: int = 12
) -> GenerationRequest:
    spec = FaceTrainingSpec(photos, hashes, "me", root / str(OWNER), steps=steps)
    return GenerationRequest(operation=Operation.FACE_TRAINING, count=1, seeds=(5,), training=spec)


def _portraits(folder: Path, seeds: tuple[int, ...]) -> GenerationRequest:
    lora = portrait_lora(OWNER, folder.name)
    return GenerationRequest(
        operation=Operation.PORTRAIT,
        prompt=person_prompt(token_for(folder.name), (WeightedText("in a garden"),)),
        seeds=seeds,
        count=len(seeds),
        steps=3,
        loras=(LoraUse(lora, FACE_WEIGHT),),
        portrait=PortraitSpec(folder, lora),
    )


async def test_training_then_portraits_on_the_worker(
    photos: tuple[tuple[Image.Image, ...], tuple[str, ...]], tmp_path: Path, model_cache: Path
) -> None:
    root = tmp_path / "portraits"
    engine = Engine(
        EngineConfig(devices=("cpu",), cache_dir=model_cache, portrait_dir=root, steps=3)
    )
    await engine.start()
    plain = GenerationRequest(prompt=(WeightedText("a red fox"),), seeds=(3,), count=1)
    try:
        before = (await engine.submit(plain).future).images[0]
        reports: list[Progress] = []
        trained = await engine.submit(_training(*photos, root), on_progress=reports.append).future

        # The result and the first report are the contact sheet of the three kept crops.
        assert trained.images[0].size == (3 * 128, 128)
        assert reports[0].preview is not None
        assert np.array_equal(np.asarray(reports[0].preview), np.asarray(trained.images[0]))
        steps = [report.step for report in reports]
        assert steps == sorted(steps)
        assert steps[-1] == reports[-1].total  # 20 preparing + 12 training steps
        assert reports[-1].total == 32
        details = trained.parameters.portrait
        assert (details["photos"], details["kept"], details["steps"]) == (4, 3, 12)
        assert details["verdicts"][1] == "no face found"
        folder = root / str(OWNER) / "me"
        assert sorted(p.name for p in (root / str(OWNER)).iterdir()) == ["me"]  # no leftovers
        assert sorted(p.name for p in folder.iterdir()) == [
            "best.png",
            "lora.safetensors",
            "portrait.json",
        ]
        meta = json.loads((folder / "portrait.json").read_text())
        hashes = photos[1]
        assert meta["photos"] == [hashes[0], hashes[2], hashes[3]]  # the kept ones only
        assert (meta["base_model"], meta["steps"]) == ("builtin:tiny", 12)

        seeds = (11, 12, 13, 14, 15, 16)
        made = await engine.submit(_portraits(folder, seeds)).future
        # The tiny model draws noise: no candidate has a face, all six are dropped and the
        # grid is the first four, each named as dropped.
        assert len(made.images) == 4
        assert made.seeds == seeds[:4]
        assert made.parameters.operation == "portrait"
        ranking = made.parameters.portrait
        assert (ranking["candidates"], ranking["with_one_face"]) == (6, 0)
        assert [cell["dropped"] for cell in ranking["cells"]] == ["no face"] * 4
        assert made.parameters.loras == {portrait_lora(OWNER, "me"): FACE_WEIGHT}

        after = (await engine.submit(plain).future).images[0]
        assert np.array_equal(np.asarray(after), np.asarray(before))
    finally:
        await engine.close()


async def test_too_few_faces_and_a_missing_portrait_are_refused(
    photos: tuple[tuple[Image.Image, ...], tuple[str, ...]], tmp_path: Path, model_cache: Path
) -> None:
    root = tmp_path / "portraits"
    engine = Engine(EngineConfig(devices=("cpu",), cache_dir=model_cache, portrait_dir=root))
    await engine.start(warm_up=False)
    given, hashes = photos
    try:
        with pytest.raises(InvalidRequestError, match="2 of the photos show one clear face"):
            await engine.submit(_training(given[:3], hashes[:3], root)).future
        assert not (root / str(OWNER) / "me").exists()
        with pytest.raises(InvalidRequestError, match="no portrait named 'ghost'"):
            await engine.submit(_portraits(root / str(OWNER) / "ghost", (1, 2, 3, 4))).future
    finally:
        await engine.close()


class _ColourFaces:
    """A face in the middle of every image; its "identity" is the image's colour layout
    (8×16 grey pixels), so likeness is measurable on the tiny model's noise."""

    def detect(self, image: Image.Image) -> list[Face]:
        side = min(image.size)
        left, top = image.width // 2 - side // 4, image.height // 2 - side // 4
        box = (left, top, left + side // 2, top + side // 2)
        eyes = ((left + side * 0.15, top + side * 0.2), (left + side * 0.35, top + side * 0.2))
        landmarks = (eyes[0], eyes[0], eyes[1], eyes[1], (left + side / 4, top + side * 0.3))
        return [Face(box, 1.0, landmarks)]

    def embed(self, image: Image.Image, face: Face) -> np.ndarray:
        grey = np.asarray(image.convert("L").resize((16, 8)), dtype=np.float64) / 255
        return grey.reshape(-1)


def test_candidates_are_ranked_by_likeness_and_the_best_four_kept(
    tiny: LoadedModel, photos: tuple[tuple[Image.Image, ...], tuple[str, ...]], tmp_path: Path
) -> None:
    from engine.portrait.learn import run_face_training

    root = tmp_path / "portraits"
    run_face_training(tiny, _training(*photos, root, steps=4), _ColourFaces())
    folder = root / str(OWNER) / "me"
    portrait = load_portrait(folder.parent, "me")
    library = LoraLibrary(None, root)
    request = _portraits(folder, (21, 22, 23, 24, 25, 26))
    every = imagine_portraits(tiny, portrait, request, request.loras[0], _ColourFaces(), library)
    distances = [c.distance for c in every.ranked]
    assert all(d is not None for d in distances)
    assert distances == sorted(distances)  # type: ignore[type-var]
    # each distance is the candidate's (fused) image's, measured again here
    for candidate in every.ranked:
        image = every.images[candidate.index]
        measured = np.linalg.norm(_ColourFaces().embed(image, candidate.face) - portrait.embedding)  # type: ignore[arg-type]
        assert candidate.distance == pytest.approx(measured)

    best = run_portraits(tiny, request, _ColourFaces(), library)
    order = [c.index for c in every.ranked[:4]]
    assert best.seeds == tuple(every.seeds[i] for i in order)
    for image, index in zip(best.images, order, strict=True):
        assert np.array_equal(np.asarray(image), np.asarray(every.images[index]))
    similarities = [cell["similarity"] for cell in best.parameters.portrait["cells"]]
    assert similarities == sorted(similarities, reverse=True)
    assert best.parameters.portrait["with_one_face"] == 6
