"""Which references a prompt has, ``--sref random``, and references stored in a job's spec."""

from __future__ import annotations

import json
import re

from PIL import Image

from bot.jobs.references import engine_references, resolve_random_styles, wanted_references
from bot.jobs.spec import JobSpec, ReferenceSpec, Role, StoredFile
from engine.request import ReferenceRole
from parser import parse_one

URL_A, URL_B, URL_C = (f"https://example.com/{n}.png" for n in "abc")


def test_wanted_references_in_order_with_weights() -> None:
    prompt = parse_one(
        f"{URL_A}::2 {URL_B} a cat --sref {URL_C}::3 42 --cref {URL_A} --iw 1.5 --sw 20 --cw 5"
    )
    assert wanted_references(prompt) == (
        ReferenceSpec(Role.IMAGE, 2.0, url=URL_A),
        ReferenceSpec(Role.IMAGE, 1.0, url=URL_B),
        ReferenceSpec(Role.STYLE, 3.0, url=URL_C),
        ReferenceSpec(Role.STYLE, 1.0, code=42),
        ReferenceSpec(Role.CHARACTER, 1.0, url=URL_A),
    )


def test_sref_random_becomes_a_code_each_time() -> None:
    prompt = parse_one("a cat --sref random::2 7 --sw 300 --ar 2:3")
    first, second = resolve_random_styles(prompt), resolve_random_styles(prompt)
    pattern = r"^a cat --sref (\d+)::2 7 --sw 300 --ar 2:3$"
    codes = [re.fullmatch(pattern, p.canonical) for p in (first, second)]
    assert all(codes)
    assert codes[0] != codes[1]
    assert [s.is_code for s in first.params.sref] == [True, True]
    assert resolve_random_styles(first) is first  # nothing random left


def test_prompts_without_random_are_unchanged() -> None:
    prompt = parse_one(f"a cat --sref {URL_A}")
    assert resolve_random_styles(prompt) is prompt


def test_spec_keeps_weights_and_references() -> None:
    prompt = parse_one(f"{URL_A} a cat --iw 0.5 --sref 9 --sw 700 --cref {URL_B} --cw 30")
    references = (
        ReferenceSpec(Role.IMAGE, 2.0, url=URL_A, file=StoredFile("a.png", "aa")),
        ReferenceSpec(Role.STYLE, 1.0, code=9),
        ReferenceSpec(Role.CHARACTER, 1.0, url=URL_B, file=StoredFile("b.png", "bb")),
    )
    spec = JobSpec.from_prompt(prompt, (1, 2, 3, 4), references)
    spec = JobSpec.from_json(json.loads(json.dumps(spec.to_json())))
    read: list[tuple[str, str]] = []

    def reader(path: str, sha256: str) -> Image.Image:
        read.append((path, sha256))
        return Image.new("RGB", (8, 8))

    request = spec.request(references=engine_references(spec, reader))
    assert (request.image_weight, request.style_weight, request.character_weight) == (0.5, 700, 30)
    assert [(r.role, r.weight, r.code) for r in request.references] == [
        (ReferenceRole.IMAGE, 2.0, None),
        (ReferenceRole.STYLE, 1.0, 9),
        (ReferenceRole.CHARACTER, 1.0, None),
    ]
    assert read == [("a.png", "aa"), ("b.png", "bb")]
