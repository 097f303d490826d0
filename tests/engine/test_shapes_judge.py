"""The judge reads ground-truth renders perfectly and notices each kind of mistake."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from PIL import Image

from engine.shapes.judge import Score, read, score
from engine.shapes.world import Background, Scene, SceneObject, render, sample_scene


@pytest.mark.parametrize("split", ["train", "held_out"])
def test_judge_is_perfect_on_ground_truth(split: str) -> None:
    rng = random.Random(11)
    total: Score | None = None
    for _ in range(400):
        scene = sample_scene(rng, split)  # type: ignore[arg-type]
        one = score(scene, read(render(scene)))
        total = one if total is None else total + one
    assert total is not None
    assert total.accuracy() == dict.fromkeys(total.accuracy(), 1.0)
    assert total.total["colour"] > 400  # two-object scenes were included


def _two() -> Scene:
    return Scene(
        (SceneObject("star", "red", "left"), SceneObject("square", "white", "right")),
        Background("blue", True),
    )


def test_judge_reads_an_enlarged_image_like_the_original() -> None:
    image = render(_two())
    big = image.resize((256, 256), Image.Resampling.NEAREST)
    assert read(big) == read(image)


@pytest.mark.parametrize(
    ("change", "wrong"),
    [
        ({"colour": "green"}, "colour"),
        ({"shape": "circle"}, "shape"),
        ({"position": "top"}, "position"),
    ],
)
def test_judge_scores_a_wrong_attribute_wrong(change: dict[str, str], wrong: str) -> None:
    scene = _two()
    claimed = Scene((replace(scene.objects[0], **change), scene.objects[1]), scene.background)
    result = score(claimed, read(render(scene)))
    assert result.correct[wrong] == 1  # of 2: only the changed object is wrong
    assert result.correct["all"] == 0
    others = {"colour", "shape", "position"} - {wrong}
    assert all(result.correct[a] == 2 for a in others)


def test_judge_scores_background_and_missing_objects() -> None:
    scene = _two()
    plain = Scene(scene.objects, Background("blue", False))
    assert score(plain, read(render(scene))).correct["background"] == 0
    lonely = Scene(scene.objects[:1], scene.background)
    result = score(scene, read(render(lonely)))
    assert result.correct["count"] == 0
    assert result.correct["colour"] == 1
    assert result.total["colour"] == 2
