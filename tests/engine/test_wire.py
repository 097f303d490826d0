"""Protocol v1's wire format: requests with every kind of field and inline images round-trip
exactly; anything malformed is refused naming the field."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from engine.loras import LoraUse
from engine.remote.wire import (
    ErrorCode,
    WireError,
    decode_progress,
    decode_request,
    decode_result,
    encode_progress,
    encode_request,
    encode_result,
    event_line,
    parse_event,
)
from engine.request import (
    EffectiveParameters,
    GenerationRequest,
    GenerationResult,
    MimicSpec,
    Operation,
    OutpaintSpec,
    PanDirection,
    PortraitSpec,
    Progress,
    Reference,
    ReferenceRole,
    RetextureSpec,
    Strength,
    StructureKind,
    Style,
    TransferSpec,
    WeightedText,
)


def picture(colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> Image.Image:
    image = Image.new("RGB", size, colour)
    image.putpixel((3, 4), (1, 2, 3))
    return image


def rich_request() -> GenerationRequest:
    source, style = picture((200, 10, 10)), picture((10, 200, 10))
    mask = Image.new("L", (40, 30), 0)
    mask.paste(255, (5, 5, 20, 20))
    return GenerationRequest(
        operation=Operation.REGION,
        prompt=(WeightedText("a cat", 1.5), WeightedText("hat", -0.5)),
        negative=("blurry",),
        aspect=(16, 9),
        seeds=(1, 2**32 - 1),
        count=2,
        chaos=30,
        stylize=250,
        style=Style.RAW,
        stop=80,
        quality=0.5,
        weird=100,
        version="6.1",
        strength=Strength.SUBTLE,
        source=source,
        mask=mask,
        outpaint=OutpaintSpec(zoom=1.5, pan=PanDirection.UP, aspect=(2, 3)),
        transfer=TransferSpec(style=style, strength=70, size=512),
        mimic=MimicSpec(reference=style, keep_shape=True, guidance=None),
        retexture=RetextureSpec(StructureKind.SKETCH, 80),
        steps=12,
        references=(
            Reference(ReferenceRole.STYLE, style, 0.5),
            Reference(ReferenceRole.IMAGE, code=7),
        ),
        image_weight=1.75,
        loras=(LoraUse("ink", 0.8), LoraUse("film")),
    )


def through_the_wire(request: GenerationRequest) -> GenerationRequest:
    body = json.loads(json.dumps(encode_request(request, "job-1", "d-1")))
    decoded, job, dispatch, portraits = decode_request(body)
    assert portraits == {}
    assert (job, dispatch) == ("job-1", "d-1")
    return decoded


def test_every_field_and_image_arrives_exactly() -> None:
    sent = rich_request()
    got = through_the_wire(sent)
    for name in GenerationRequest.__dataclass_fields__:
        a, b = getattr(sent, name), getattr(got, name)
        if isinstance(a, Image.Image):
            assert (b.mode, b.size, b.tobytes()) == (a.mode, a.size, a.tobytes()), name
        elif name in ("transfer", "mimic", "references"):
            continue  # hold images: compared below
        else:
            assert a == b, name
    assert got.transfer is not None
    assert got.transfer.style.tobytes() == sent.transfer.style.tobytes()
    assert got.references[0].image is not None
    assert got.references[0].image.tobytes() == sent.references[0].image.tobytes()
    assert (got.references[1].image, got.references[1].code) == (None, 7)
    assert isinstance(got.style, Style)
    assert isinstance(got.outpaint.pan, PanDirection)


def test_an_image_used_twice_travels_once() -> None:
    body = encode_request(rich_request(), "j", "d")
    assert len(body["images"]) == 3  # source, mask, and the style image used three times


def body_with(**changes: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(encode_request(rich_request(), "j", "d")))
    request = body["request"]
    for path, value in changes.items():
        target = request
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value
    return body


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seeds__1": "x"}, r"request\.seeds\[1\]: expected int"),
        ({"chaos": 1.5}, r"request\.chaos: expected int"),
        ({"style": "loud"}, r"request\.style: 'loud' is not one of"),
        ({"prompt__0__weight": "heavy"}, r"request\.prompt\[0\]\.weight: expected float"),
        ({"aspect": [1, 2, 3]}, r"request\.aspect: expected 2 items"),
        ({"outpaint__surprise": 1}, r"request\.outpaint: unknown field 'surprise'"),
        ({"loras__0__name": None}, r"request\.loras\[0\]\.name: missing"),
    ],
)
def test_a_malformed_field_is_refused_by_name(change: dict[str, Any], message: str) -> None:
    with pytest.raises(WireError, match=message):
        decode_request(body_with(**change))


def test_an_image_that_does_not_match_its_hash_is_refused() -> None:
    body = json.loads(json.dumps(encode_request(rich_request(), "j", "d")))
    missing = copy.deepcopy(body)
    digest = body["request"]["source"]["$image"]
    other = base64.b64encode(b"\x89PNG not this one").decode()
    body["images"][digest] = other
    with pytest.raises(WireError, match=r"request\.source: image .* does not match its sha256"):
        decode_request(body)
    missing["request"]["mask"] = {"$image": "0" * 64}
    with pytest.raises(WireError, match=r"request\.mask: image 000000000000… is not in"):
        decode_request(missing)


def test_another_protocol_version_and_local_paths_are_refused(tmp_path: Path) -> None:
    body = encode_request(GenerationRequest(), "j", "d")
    with pytest.raises(WireError, match="protocol 2 is not supported; this worker speaks 1"):
        decode_request({**body, "protocol": 2})
    elsewhere = GenerationRequest(
        operation=Operation.PORTRAIT, portrait=PortraitSpec(folder=Path("/data/p"), face_lora="x")
    )
    with pytest.raises(WireError, match=r"request\.portrait\.folder: a path on this machine"):
        encode_request(elsewhere, "j", "d", portraits=tmp_path)  # not under the portraits root


def test_results_and_progress_round_trip() -> None:
    cells = tuple(picture((i * 50, 0, 0), (64, 48)) for i in range(4))
    parameters = EffectiveParameters.without_diffusion_prompt(
        Operation.IMAGINE, steps=8, size=(64, 48), sampler="DPM"
    )
    result = GenerationResult(cells, (1, 2, 3, 4), 64, 48, 8, "builtin:tiny", 0.25, parameters)
    line = event_line({"event": "result", "dispatch": "d", "result": encode_result(result)})
    back, portraits = decode_result(parse_event(line)["result"])
    assert portraits == {}
    assert [c.tobytes() for c in back.images] == [c.tobytes() for c in cells]
    assert (back.seeds, back.steps_run, back.model, back.seconds) == (
        (1, 2, 3, 4),
        8,
        "builtin:tiny",
        0.25,
    )
    assert back.parameters == parameters
    preview = picture((0, 0, 200), (32, 32))
    event = encode_progress(Progress(3, 8, preview), with_preview=True)
    assert event["event"] == "preview"
    progress = decode_progress(parse_event(event_line(event)))
    assert (progress.step, progress.total) == (3, 8)
    assert progress.preview is not None
    assert progress.preview.size == (32, 32)
    assert "jpeg" not in encode_progress(Progress(3, 8, preview), with_preview=False)


def test_a_broken_line_is_a_lost_worker() -> None:
    with pytest.raises(WireError) as raised:
        parse_event(b'{"event": "progr')
    assert raised.value.code is ErrorCode.WORKER_LOST
