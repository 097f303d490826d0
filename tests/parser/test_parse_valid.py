"""Valid prompts → structure: images, weighted parts, typed parameters, canonical echo."""

from __future__ import annotations

from typing import Any

import pytest

from parser import MAX_ASPECT, Niji, RequiresParameterError, parse

CASES: list[tuple[str, dict[str, Any]]] = [
    # plain text; spaces collapsed in text and echo
    ("a red fox", {"parts": [("a red fox", 1.0)], "params": {}, "canonical": "a red fox"}),
    ("  a   red \t fox  ", {"parts": [("a red fox", 1.0)], "canonical": "a red fox"}),
    # multi-prompts: the number after :: weighs the part before it
    ("space::2 ship", {"parts": [("space", 2.0), ("ship", 1.0)], "canonical": "space::2 ship"}),
    ("space:: ship", {"parts": [("space", 1.0), ("ship", 1.0)]}),
    ("space::ship", {"parts": [("space", 1.0), ("ship", 1.0)], "canonical": "space:: ship"}),
    ("hot dog::1.5", {"parts": [("hot dog", 1.5)]}),
    ("hot dog::", {"parts": [("hot dog", 1.0)], "canonical": "hot dog::"}),
    (
        "still life gouache painting:: fruit::-.5",
        {"parts": [("still life gouache painting", 1.0), ("fruit", -0.5)]},
    ),
    ("cheese::4 cake::2", {"parts": [("cheese", 4.0), ("cake", 2.0)]}),
    ("a::0 b", {"parts": [("a", 0.0), ("b", 1.0)]}),
    ("time 10:30::2 clock", {"parts": [("time 10:30", 2.0), ("clock", 1.0)]}),
    ("a:::b", {"parts": [("a:", 1.0), ("b", 1.0)]}),
    # leading image URLs; a stray comma after a URL is ignored; URL after text is text
    (
        "https://x.com/a.png, a cat",
        {
            "images": [("https://x.com/a.png", 1.0)],
            "parts": [("a cat", 1.0)],
            "canonical": "<https://x.com/a.png> a cat",
        },
    ),
    ("https://x.com/a.png , a cat", {"images": [("https://x.com/a.png", 1.0)]}),
    ("<https://x.com/a.png> a cat", {"images": [("https://x.com/a.png", 1.0)]}),
    (
        "https://x.com/a.png::2 https://x.com/b.png::.5 blend",
        {"images": [("https://x.com/a.png", 2.0), ("https://x.com/b.png", 0.5)]},
    ),
    ("HTTPS://X.COM/A.PNG cat", {"images": [("HTTPS://X.COM/A.PNG", 1.0)]}),
    ("a cat https://x.com/a.png", {"images": [], "parts": [("a cat https://x.com/a.png", 1.0)]}),
    (
        "https://x.com/1.png https://x.com/2.png",
        {"images": [("https://x.com/1.png", 1.0), ("https://x.com/2.png", 1.0)], "parts": []},
    ),
    ("http://[::1]:8080/a.png cat", {"images": [("http://[::1]:8080/a.png", 1.0)]}),
    # parameters: aliases, case, em-dash, value runs to the next parameter
    ("cat --ar 16:9", {"params": {"aspect": [16, 9]}}),
    ("cat --aspect 2:3", {"params": {"aspect": [2, 3]}}),
    ("cat --AR 16:9", {"params": {"aspect": [16, 9]}, "canonical": "cat --AR 16:9"}),
    (
        "cat —ar 16:9 —seed 5",
        {"params": {"aspect": [16, 9], "seed": 5}, "canonical": "cat --ar 16:9 --seed 5"},
    ),
    ("cat --c 100", {"params": {"chaos": 100}}),
    ("cat --chaos 0", {"params": {"chaos": 0}}),
    ("cat --s 1000", {"params": {"stylize": 1000}}),
    ("cat --stylize 0", {"params": {"stylize": 0}}),
    ("cat --w 3000", {"params": {"weird": 3000}}),
    ("cat --weird 0", {"params": {"weird": 0}}),
    ("cat --stop 10", {"params": {"stop": 10}}),
    ("cat --stop 100", {"params": {"stop": 100}}),
    ("cat --seed 0", {"params": {"seed": 0}}),
    ("cat --seed 4294967295", {"params": {"seed": 4294967295}}),
    ("cat --q .25", {"params": {"quality": 0.25}}),
    ("cat --q 0.5", {"params": {"quality": 0.5}}),
    ("cat --quality 1", {"params": {"quality": 1.0}}),
    ("cat --q 2", {"params": {"quality": 2.0}}),
    ("cat --r 40", {"params": {"repeat": 40}}),
    ("cat --repeat 1", {"params": {"repeat": 1}}),
    ("cat --iw 0", {"params": {"iw": 0.0}}),
    ("cat --iw 3", {"params": {"iw": 3.0}}),
    ("cat --iw 1.25", {"params": {"iw": 1.25}}),
    ("cat --style raw", {"params": {"style": "raw"}}),
    ("cat --style RAW", {"params": {"style": "raw"}}),
    ("cat --niji 5 --style cute", {"params": {"niji": "5", "style": "cute"}}),
    ("cat --style Scenic --niji", {"params": {"niji": None, "style": "scenic"}}),
    ("cat --ar 4:1", {"params": {"aspect": [4, 1]}}),
    ("cat --ar 1:4", {"params": {"aspect": [1, 4]}}),
    ("cat --ar 400:100", {"params": {"aspect": [400, 100]}}),
    ("cat --ar 1920:1080", {"params": {"aspect": [1920, 1080]}}),
    ("cat --tile", {"params": {"tile": True}}),
    ("cat --tile --ar 1:1", {"params": {"tile": True, "aspect": [1, 1]}}),
    ("cat --no dogs", {"params": {"no": ["dogs"]}}),
    ("cat --no dogs, cats ,  birds", {"params": {"no": ["dogs", "cats", "birds"]}}),
    ("cat --no a --no b, c", {"params": {"no": ["a", "b", "c"]}}),
    ("cat --no red cars", {"params": {"no": ["red cars"]}}),
    ("cat --v 5", {"params": {"version": "5"}}),
    ("cat --v 5.0", {"params": {"version": "5"}, "canonical": "cat --v 5.0"}),
    ("cat --v 5.1", {"params": {"version": "5.1"}}),
    ("cat --v 5.2", {"params": {"version": "5.2"}}),
    ("cat --v 6", {"params": {"version": "6"}}),
    ("cat --version 6.0", {"params": {"version": "6"}}),
    ("cat --v 6.1", {"params": {"version": "6.1"}}),
    ("cat --v 7", {"params": {"version": "7"}}),
    ("cat --niji", {"params": {"niji": None}}),
    ("cat --niji 4", {"params": {"niji": "4"}}),
    ("cat --niji 5", {"params": {"niji": "5"}}),
    ("cat --niji 6", {"params": {"niji": "6"}}),
    ("cat --fast", {"params": {"mode": "fast"}}),
    ("cat --relax", {"params": {"mode": "relax"}}),
    ("cat --turbo", {"params": {"mode": "turbo"}}),
    (
        "cat --sref https://x.com/s.png",
        {"params": {"sref": [{"ref": "https://x.com/s.png", "weight": 1.0}]}},
    ),
    (
        "cat --sref https://x.com/a.png::2 https://x.com/b.png::1 --sw 500",
        {
            "params": {
                "sref": [
                    {"ref": "https://x.com/a.png", "weight": 2.0},
                    {"ref": "https://x.com/b.png", "weight": 1.0},
                ],
                "sw": 500,
            }
        },
    ),
    (
        "cat --sref 762351716 random",
        {
            "params": {
                "sref": [{"ref": "762351716", "weight": 1.0}, {"ref": "random", "weight": 1.0}]
            }
        },
    ),
    ("cat --sref RANDOM::2", {"params": {"sref": [{"ref": "random", "weight": 2.0}]}}),
    (
        "cat --sref <https://x.com/s.png>",
        {"params": {"sref": [{"ref": "https://x.com/s.png", "weight": 1.0}]}},
    ),
    ("cat --sw 0 --sref 1", {"params": {"sw": 0, "sref": [{"ref": "1", "weight": 1.0}]}}),
    (
        "cat --cref https://x.com/c.png --cw 0",
        {"params": {"cref": ["https://x.com/c.png"], "cw": 0}},
    ),
    (
        "cat --cref https://x.com/a.png, https://x.com/b.png --cw 100",
        {"params": {"cref": ["https://x.com/a.png", "https://x.com/b.png"], "cw": 100}},
    ),
    # parameters may come in any order; `--` in text that is not a parameter stays text
    ("cat --seed 1 --ar 1:1 --chaos 5", {"params": {"seed": 1, "aspect": [1, 1], "chaos": 5}}),
    ("rock -- paper --ar 1:1", {"parts": [("rock -- paper", 1.0)]}),
    ("a — b", {"parts": [("a — b", 1.0)]}),
    ("well-known x--y", {"parts": [("well-known x--y", 1.0)]}),
    ("cat,--ar 1:1", {"parts": [("cat,", 1.0)], "params": {"aspect": [1, 1]}}),
    # image-only prompts (two or more images) are fine without text-only parameters
    (
        "https://x.com/1.png https://x.com/2.png --ar 3:2 --iw 2",
        {"parts": [], "params": {"aspect": [3, 2], "iw": 2.0}},
    ),
    # the seed-style prompt from the issue
    (
        "https://s.mj.run/a1 , A little girl plays the guitar in the garden --seed 2023957784 "
        "--cref https://s.mj.run/b2 --cw 0 --iw 2 --niji 6",
        {
            "images": [("https://s.mj.run/a1", 1.0)],
            "parts": [("A little girl plays the guitar in the garden", 1.0)],
            "params": {
                "seed": 2023957784,
                "cref": ["https://s.mj.run/b2"],
                "cw": 0,
                "iw": 2.0,
                "niji": "6",
            },
            "canonical": "<https://s.mj.run/a1> A little girl plays the guitar in the garden "
            "--seed 2023957784 --cref https://s.mj.run/b2 --cw 0 --iw 2 --niji 6",
        },
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:50] for c in CASES])
def test_parse_valid_prompt_structure(text: str, expected: dict[str, Any]) -> None:
    [prompt] = parse(text)
    got = prompt.to_json()
    if "images" in expected:
        assert [(i["url"], i["weight"]) for i in got["images"]] == expected["images"]
    if "parts" in expected:
        assert [(p["text"], p["weight"]) for p in got["parts"]] == expected["parts"]
    if "params" in expected:
        assert got["params"] == expected["params"]
    if "canonical" in expected:
        assert prompt.canonical == expected["canonical"]
    assert parse(prompt.canonical) == [prompt]


def test_parse_zoom_allowed_only_in_custom_zoom_box() -> None:
    [prompt] = parse("a cat --zoom 1.5 --ar 2:1", allow_zoom=True)
    assert prompt.params.zoom == 1.5
    assert prompt.params.aspect == (2, 1)


def test_params_given_lists_only_explicit_parameters() -> None:
    [prompt] = parse("a cat --tile --seed 3")
    assert set(prompt.params.given()) == {"tile", "seed"}


def test_prompt_text_joins_positive_parts() -> None:
    [prompt] = parse("a cat:: dog::-1 hat::2")
    assert prompt.text == "a cat, hat"


def test_parse_niji_styles_need_a_niji_model() -> None:
    [prompt] = parse("a cat --style expressive", suffix="--niji 5")
    assert (prompt.params.style, prompt.params.niji) == ("expressive", Niji("5"))
    # a user whose /settings choose a niji model needs no --niji, unless the prompt names --v
    [prompt] = parse("a cat --style cute", niji_default=True)
    assert prompt.params.style == "cute"
    with pytest.raises(RequiresParameterError):
        parse("a cat --style cute --v 6", niji_default=True)
    [prompt] = parse("a cat --style raw --v 6")
    assert prompt.params.style == "raw"


def test_parse_aspect_limit_is_the_engines() -> None:
    from engine.sizes import MAX_ASPECT as ENGINE_MAX_ASPECT  # light: no torch

    # one limit: what the parser accepts, the engine renders (issue 15, item 2)
    assert MAX_ASPECT == ENGINE_MAX_ASPECT == 4.0
    [prompt] = parse(f"a cat --ar {int(MAX_ASPECT)}:1")
    assert prompt.params.aspect == (4, 1)
