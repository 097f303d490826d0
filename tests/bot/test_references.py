"""Which references a prompt has, ``--sref random``, and references stored in a job's spec."""

from __future__ import annotations

import json
import re

from PIL import Image

from bot.jobspec import request_from_spec, spec_from_prompt, stored_references
from bot.references import Wanted, resolve_random_styles, wanted_references
from engine.request import ReferenceRole
from parser import parse_one

URL_A, URL_B, URL_C = (f"https://example.com/{n}.png" for n in "abc")


def test_wanted_references_in_order_with_weights() -> None:
    prompt = parse_one(
        f"{URL_A}::2 {URL_B} a cat --sref {URL_C}::3 42 --cref {URL_A} --iw 1.5 --sw 20 --cw 5"
    )
    assert wanted_references(prompt) == [
        Wanted("image", 2.0, url=URL_A),
        Wanted("image", 1.0, url=URL_B),
        Wanted("sref", 3.0, url=URL_C),
        Wanted("sref", 1.0, code=42),
        Wanted("cref", 1.0, url=URL_A),
    ]


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
    spec = spec_from_prompt(prompt, (1, 2, 3, 4))
    spec["references"] = [
        {"role": "image", "weight": 2.0, "path": "a.png", "sha256": "aa"},
        {"role": "sref", "weight": 1.0, "code": 9},
        {"role": "cref", "weight": 1.0, "path": "b.png", "sha256": "bb"},
    ]
    spec = json.loads(json.dumps(spec))
    read: list[tuple[str, str]] = []

    def reader(path: str, sha256: str) -> Image.Image:
        read.append((path, sha256))
        return Image.new("RGB", (8, 8))

    references = stored_references(spec, reader)
    request = request_from_spec(spec, references=references)
    assert (request.image_weight, request.style_weight, request.character_weight) == (0.5, 700, 30)
    assert [(r.role, r.weight, r.code) for r in request.references] == [
        (ReferenceRole.IMAGE, 2.0, None),
        (ReferenceRole.STYLE, 1.0, 9),
        (ReferenceRole.CHARACTER, 1.0, None),
    ]
    assert read == [("a.png", "aa"), ("b.png", "bb")]


def test_old_specs_without_weights_get_the_defaults() -> None:
    spec = spec_from_prompt(parse_one("a cat"), (1,))
    for key in ("iw", "sw", "cw", "references"):
        del spec[key]
    request = request_from_spec(spec)
    assert (request.image_weight, request.style_weight, request.character_weight) == (1.0, 100, 100)
    assert request.references == ()
