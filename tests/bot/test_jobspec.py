"""A job's stored spec rebuilds the same engine request (after restarts, for buttons)."""

from __future__ import annotations

import json

from bot.jobspec import request_from_spec, spec_from_prompt
from engine.request import Operation
from parser import parse


def test_spec_round_trips_through_json_to_the_request() -> None:
    [prompt] = parse(
        "a fox::2 snow::-0.5 --ar 16:9 --chaos 20 --no text --stop 60 --q 2 "
        "--tile --weird 10 --s 300 --v 6.1"
    )
    spec = json.loads(json.dumps(spec_from_prompt(prompt, (1, 2, 3, 4))))
    request = request_from_spec(spec)
    assert request.operation is Operation.IMAGINE
    assert [(p.text, p.weight) for p in request.prompt] == [("a fox", 2.0), ("snow", -0.5)]
    assert request.aspect == (16, 9)
    assert request.seeds == (1, 2, 3, 4)
    assert (request.chaos, request.stop, request.quality, request.weird) == (20, 60, 2.0, 10)
    assert (request.tile, request.stylize, request.version) == (True, 300, "6.1")
    assert request.negative == ("text",)


def test_spec_outpaint_and_niji_version() -> None:
    [prompt] = parse("a fox --niji 6")
    spec = spec_from_prompt(prompt, (9,))
    spec.update(operation="outpaint", outpaint={"pan": "left"})
    request = request_from_spec(spec)
    assert request.version == "niji 6"
    assert request.outpaint is not None
    assert str(request.outpaint.pan) == "left"
    assert request.count == 1
