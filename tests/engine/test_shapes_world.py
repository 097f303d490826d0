"""The shapes world: captions say what renders show, and the held-out split is disjoint."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from engine.shapes.world import (
    ANCHORS,
    COLOURS,
    GRADIENT_AMOUNT,
    HELD_OUT_PERCENT,
    PHRASES,
    POSITIONS,
    SHAPES,
    Background,
    Scene,
    SceneObject,
    caption,
    fragment,
    full_caption,
    is_held_out,
    render,
    sample_scene,
    scenes,
)


def _scene(*objects: tuple[str, str, str], bg: str = "black", gradient: bool = False) -> Scene:
    return Scene(tuple(SceneObject(*o) for o in objects), Background(bg, gradient))


def test_full_caption_names_every_attribute_in_order() -> None:
    scene = _scene(("star", "red", "left"), ("square", "white", "right"), gradient=True)
    assert full_caption(scene) == (
        "a red star on the left and a white square on the right, black gradient background"
    )
    orange = _scene(("circle", "orange", "centre"), bg="blue")
    assert full_caption(orange) == "an orange circle in the centre, blue background"


def test_dropping_every_attribute_leaves_generic_objects() -> None:
    scene = _scene(("star", "red", "top"), ("circle", "green", "bottom"))
    assert caption(scene, random.Random(0), drop=1.0) == "a shape and a shape"


def test_attribute_dropout_rate_matches_the_probability() -> None:
    rng = random.Random(1)
    scene = _scene(("star", "red", "top"))
    texts = [caption(scene, rng, drop=0.25) for _ in range(4000)]
    kept = sum("red" in t for t in texts) / len(texts)
    assert 0.72 < kept < 0.78


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("position", POSITIONS)
def test_render_puts_the_named_colour_at_the_named_place(shape: str, position: str) -> None:
    scene = _scene((shape, "yellow", position), bg="purple")
    pixels = np.asarray(render(scene))
    x, y = ANCHORS[position]
    assert tuple(pixels[y, x]) == COLOURS["yellow"]
    for corner in [(0, 0), (0, 63), (63, 0), (63, 63)]:
        assert tuple(pixels[corner]) == COLOURS["purple"]
    # the object covers a shape-sized area: between a star's and a square's
    yellow = (np.abs(pixels.astype(int) - COLOURS["yellow"]).sum(axis=2) < 30).sum()
    assert 120 < yellow < 420


def test_gradient_fades_from_the_named_colour_toward_grey() -> None:
    plain = np.asarray(render(_scene(("circle", "white", "left"), bg="red")), dtype=float)
    faded = np.asarray(render(_scene(("circle", "white", "left"), bg="red", gradient=True)), float)
    assert np.array_equal(plain[0, 0], faded[0, 0])
    expected_bottom = np.array(COLOURS["red"]) + GRADIENT_AMOUNT * (128 - np.array(COLOURS["red"]))
    assert np.abs(faded[63, 0] - expected_bottom).max() <= 2
    assert np.array_equal(plain[63, 0], plain[0, 0])


def test_sampled_scenes_follow_the_rules() -> None:
    rng = random.Random(2)
    for _ in range(2000):
        scene = sample_scene(rng, "train")
        assert 1 <= len(scene.objects) <= 2
        assert all(o.colour != scene.background.colour for o in scene.objects)
        if len(scene.objects) == 2:
            assert {o.position for o in scene.objects} in ({"left", "right"}, {"top", "bottom"})


@pytest.mark.parametrize("share", [0.0, 0.5, 0.75, 1.0])
def test_the_share_of_two_object_scenes_is_the_one_asked(share: float) -> None:
    rng = random.Random(4)
    drawn = [sample_scene(rng, "train", two_objects=share) for _ in range(2000)]
    pairs = sum(len(scene.objects) == 2 for scene in drawn)
    assert abs(pairs / 2000 - share) < 0.035


def test_fragments_are_true_words_about_the_scene_without_the_sentence() -> None:
    scene = _scene(("star", "red", "left"), ("square", "white", "right"), bg="blue", gradient=True)
    rng = random.Random(5)
    seen = {fragment(scene, rng) for _ in range(400)}
    true_words = [[o.colour, o.shape, PHRASES[o.position]] for o in scene.objects]
    allowed = {"blue gradient background"} | {
        " ".join(kept)
        for words in true_words
        for mask in itertools.product((False, True), repeat=3)
        if (kept := [w for w, keep in zip(words, mask, strict=True) if keep])
    }
    assert seen <= allowed
    # Every single word appears alone (a one-word negative prompt is one of them).
    assert {"red", "white", "star", "square", "on the left", "on the right"} <= seen
    assert not any(text.startswith(("a ", "an ")) for text in seen)


def test_held_out_split_is_disjoint_and_about_a_tenth() -> None:
    train = {s.key for s in itertools.islice(scenes(3, "train"), 3000)}
    held = {s.key for s in itertools.islice(scenes(3, "held_out"), 600)}
    assert not train & held
    singles = [
        _scene((shape, colour, position), bg=bg, gradient=gradient)
        for shape, colour, position, bg, gradient in itertools.product(
            SHAPES, COLOURS, POSITIONS, COLOURS, (False, True)
        )
        if colour != bg
    ]
    share = 100 * sum(map(is_held_out, singles)) / len(singles)
    assert HELD_OUT_PERCENT - 2 < share < HELD_OUT_PERCENT + 2


def test_scene_streams_are_reproducible() -> None:
    first = [s.key for s in itertools.islice(scenes(7, "train"), 50)]
    again = [s.key for s in itertools.islice(scenes(7, "train"), 50)]
    other = [s.key for s in itertools.islice(scenes(8, "train"), 50)]
    assert first == again
    assert first != other
