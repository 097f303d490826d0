"""The parameter table's descriptions say what the code does (issue 15, item 8)."""

from __future__ import annotations

import re

from parser import PARAMS
from parser.docs import markdown_table


def test_docs_speed_modes_describe_priority_not_rendering() -> None:
    # --turbo/--fast/--relax only order the queue and count GPU time: the engine renders the
    # same steps and image in every mode, so no summary may promise otherwise.
    modes = [spec for spec in PARAMS if spec.key == "mode"]
    assert [spec.names for spec in modes] == [("fast",), ("relax",), ("turbo",)]
    for spec in modes:
        assert not re.search(r"(fewer|more|less) steps|quality|detail", spec.summary), spec.summary
    turbo = next(spec for spec in modes if spec.names == ("turbo",))
    assert "ahead of fast jobs" in turbo.summary
    assert "same steps" in turbo.summary


def test_docs_table_lists_the_known_styles_and_the_aspect_limit() -> None:
    table = markdown_table()
    row = next(line for line in table.splitlines() if line.startswith("| `--style`"))
    assert "raw; with --niji: cute, expressive, original, scenic" in row
    row = next(line for line in table.splitlines() if line.startswith("| `--ar`"))
    assert "1:4 to 4:1" in row
