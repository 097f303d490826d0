"""Portrait photos and ranking on a public-domain portrait (scikit-image's astronaut, Eileen
Collins, NASA) and edited copies: verdicts with their reasons, the FaceChain crop geometry,
levelled eyes, and candidates ranked by likeness."""

from __future__ import annotations

import io
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from engine.portrait import (
    SAME_PERSON,
    DlibFaces,
    Verdict,
    default_faces,
    prepare_photo,
    rank_candidates,
)
from engine.portrait.photos import CROP_FACTOR, FACE_HEIGHT


@pytest.fixture(scope="module")
def faces() -> DlibFaces:
    return default_faces()


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def test_one_clear_face_is_kept_and_cropped_as_facechain_does(
    faces: DlibFaces, astronaut: Image.Image
) -> None:
    prepared = prepare_photo(astronaut, faces, side=512)
    assert (prepared.verdict, prepared.reason) == (Verdict.KEPT, "kept")
    assert prepared.crop is not None
    assert prepared.crop.size == (512, 512)
    assert prepared.embedding is not None
    assert prepared.embedding.shape == (128,)
    # Found again in the crop: centred horizontally, its centre at 0.435 of the height, its
    # size 1/3.29 of the side (±10%: the detector's box moves a little with the resampling).
    [again] = faces.detect(prepared.crop)
    left, top, right, bottom = again.box
    assert abs((left + right) / 2 / 512 - 0.5) < 0.04
    assert abs((top + bottom) / 2 / 512 - FACE_HEIGHT) < 0.04
    assert abs(again.size / 512 - 1 / CROP_FACTOR) < 0.1 / CROP_FACTOR
    distance = np.linalg.norm(faces.embed(prepared.crop, again) - prepared.embedding)
    assert distance < 0.3  # the same person after the crop


def test_a_tilted_head_is_levelled(faces: DlibFaces, astronaut: Image.Image) -> None:
    tilted = astronaut.rotate(12, resample=Image.Resampling.BICUBIC, center=(220, 121))
    [before] = faces.detect(tilted)
    prepared = prepare_photo(tilted, faces)
    assert prepared.crop is not None
    [after] = faces.detect(prepared.crop)

    def tilt(face):  # type: ignore[no-untyped-def]
        left_eye, right_eye = face.eyes
        dx, dy = right_eye - left_eye
        return abs(math.degrees(math.atan2(dy, dx)))

    assert tilt(before) > 8
    assert tilt(after) < 3


def test_photos_without_a_usable_face_say_why(faces: DlibFaces, astronaut: Image.Image) -> None:
    blank = Image.new("RGB", (400, 300), (120, 130, 140))
    assert prepare_photo(blank, faces).verdict is Verdict.NO_FACE

    pair = Image.new("RGB", (1024, 512))
    pair.paste(astronaut, (0, 0))
    pair.paste(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (512, 0))
    several = prepare_photo(pair, faces)
    assert (several.verdict, several.reason) == (
        Verdict.SEVERAL_FACES,
        "2 faces; use photos of you alone",
    )

    small = astronaut.resize((320, 320), Image.Resampling.LANCZOS)
    too_small = prepare_photo(small, faces)
    assert too_small.verdict is Verdict.FACE_TOO_SMALL
    assert "px wide; at least 64 needed" in too_small.reason

    blurry = prepare_photo(astronaut.filter(ImageFilter.GaussianBlur(1.6)), faces)
    assert blurry.verdict is Verdict.TOO_BLURRY
    assert "sharpness" in blurry.reason


def test_a_dominant_face_with_a_small_one_behind_counts_as_one(
    faces: DlibFaces, astronaut: Image.Image
) -> None:
    scene = astronaut.copy()
    scene.paste(astronaut.resize((200, 200)), (312, 312))  # a face 2.5× smaller each way
    assert len(faces.detect(scene)) == 2
    assert prepare_photo(scene, faces).verdict is Verdict.KEPT


def test_the_same_photo_ranks_first_then_mild_edits_then_heavy_and_no_face_is_dropped(
    faces: DlibFaces, astronaut: Image.Image
) -> None:
    reference = prepare_photo(astronaut, faces).embedding
    assert reference is not None
    candidates = [
        _jpeg(ImageEnhance.Brightness(astronaut).enhance(0.55), 20),  # heavy
        Image.new("RGB", (512, 512), (200, 180, 160)),  # no face
        astronaut,  # identical
        _jpeg(astronaut, 70),  # mild
    ]
    kept, dropped = rank_candidates(candidates, reference, faces)
    assert [c.index for c in kept] == [2, 3, 0]
    assert kept[0].distance == pytest.approx(0.0, abs=1e-6)
    assert kept[0].similarity == pytest.approx(1.0)
    assert all(c.distance is not None and c.distance < SAME_PERSON for c in kept)
    assert [(c.index, c.dropped) for c in dropped] == [(1, "no face")]


def test_sharpness_falls_with_blur_and_the_bar_sits_between_soft_and_blurred(
    faces: DlibFaces, astronaut: Image.Image
) -> None:
    """Measured on the astronaut: 220 sharp, 40 at a 0.8 px blur (kept), 15 at 1.2 px, 8 at
    1.6 px (refused)."""
    from engine.portrait.photos import MIN_SHARPNESS, sharpness

    [face] = faces.detect(astronaut)
    curve = [
        sharpness(astronaut.filter(ImageFilter.GaussianBlur(r)) if r else astronaut, face)
        for r in (0, 0.8, 1.2, 1.6)
    ]
    assert all(a > b for a, b in itertools.pairwise(curve))
    assert curve[1] > MIN_SHARPNESS > curve[2]


def test_fusion_repaints_the_face_box_only(
    faces: DlibFaces, astronaut: Image.Image, model_cache: Path
) -> None:
    import torch

    from engine.models import load_model
    from engine.portrait.fusion import FACE_MARGIN, face_mask, fuse_face

    [face] = faces.detect(astronaut)
    mask = np.asarray(face_mask(astronaut.size, face)) > 0
    rows, cols = np.nonzero(mask)
    grow = FACE_MARGIN * face.size
    assert (cols.min(), rows.min()) == (round(face.box[0] - grow), round(face.box[1] - grow))
    # A model of its own: fusion loads IP-Adapters, which would stay in the shared tiny one.
    model = load_model("builtin:tiny", device="cpu", dtype=torch.float32, cache_dir=model_cache)
    fused = np.asarray(fuse_face(model, astronaut, face, astronaut, "a person", seed=3), int)
    source = np.asarray(astronaut, int)
    assert fused.shape == source.shape
    assert (fused[~mask] == source[~mask]).all()
    assert np.abs(fused - source)[mask].mean() > 5
