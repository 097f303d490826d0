"""Fuzzing the parser: N random and adversarial prompts; counts exceptions other than PromptError.

Every prompt a user can type must give prompts or a ``PromptError`` (whose span lies inside
the text it names and whose ``render()`` works), within 50 ms. Prompt ``i`` is generated from
``random.Random(f"{seed}:{i}")``, so ``--only i`` reproduces it. Prints, per kind of prompt,
how many there were and the slowest; the count of other exceptions (with examples); and the
slowest prompts overall, timed as CPU time of the parsing thread (robust on a shared machine)
and wall time.

Run: nice -n 19 .venv/bin/python bench/fuzz_parser.py 1000000 [--seed S] [--jobs J]
"""

from __future__ import annotations

import argparse
import heapq
import json
import multiprocessing
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parser import PARAMS, PromptError, parse  # noqa: E402
from parser.parse import DEFAULT_MAX_LENGTH, DEFAULT_MAX_TOTAL_LENGTH  # noqa: E402

BUDGET_S = 0.050
"""Every prompt must be parsed within this (issue 13: ≤ 50 ms)."""
CORPUS = ROOT / "tests" / "parser" / "data" / "corpus.txt"

# -- prompt generators ----------------------------------------------------------------------

SYNTAX = list("-—:{},\\<> .+0123456789\t\n")
TOKENS = [
    *(" ", "  ", "\n", ",", " , ", "a", "cat", "Ünïcødé", "熊猫", "🐱", "\u200b", "\u202e"),
    *("\\", "::", ":", "::2", "::-.5", "::0", ":::", "{", "}", "{a, b}", "\\,", "\\{", "\\}"),
    *("<", ">", "https://x.com/a.png", "<https://x.com/b.png>", "http://[::1]/c.png", "https://"),
    *("--", "—", "--ar", " 16:9", "--ar16:9", "--AR", " 1.5:1", " 1:5", " 4:1", "--no", " dogs"),
    *("--c", " 50", "--chaos 150", "--seed", " 4294967295", "--q", " .25", "--s 750", "--tile"),
    *("--niji", " 6", "--v", " 5.2", "--sref", " random::2", " 123", "--sw 10", "--cref"),
    *("--cw 0", "--iw", " 2", "--stop 50", "--style", " raw", " cute", " banana", "--fast"),
    *("--relax", "--turbo", "--repeat 3", "--weird 5", "--zoom 2", "--xyz", "--mine", "-", "."),
    "--sref https://x.com/s.png::3",
]
NUMERIC_PARAMS = [
    "--seed",
    "--chaos",
    "--c",
    "--s",
    "--stylize",
    "--weird",
    "--stop",
    "--repeat",
    "--q",
    "--iw",
    "--zoom",
    "--sw",
    "--cw",
    "--v",
    "--niji",
    "--sref",
]


def _corpus() -> list[str]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


CORPUS_PROMPTS = _corpus()


def _any_char(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(SYNTAX)
    if roll < 0.55:
        return chr(rng.randrange(0x20, 0x7F))
    if roll < 0.65:  # combining marks, zero-width and direction controls
        return chr(rng.choice([0x300, 0x301, 0x200B, 0x200D, 0x202E, 0xFE0F, 0x180E, 0x3000]))
    if roll < 0.75:
        return chr(rng.randrange(0x4E00, 0x9FFF))  # CJK: double width
    if roll < 0.85:
        return chr(rng.randrange(0x1F300, 0x1FAFF))  # emoji
    return chr(rng.randrange(0, 0x110000))  # anything, lone surrogates included


def unicode_soup(rng: random.Random) -> str:
    length = rng.choice([rng.randrange(1, 60), rng.randrange(60, 600), DEFAULT_MAX_LENGTH])
    return "".join(_any_char(rng) for _ in range(length))


def tokens(rng: random.Random) -> str:
    return "".join(rng.choice(TOKENS) for _ in range(rng.randrange(1, 40)))


def long_prompt(rng: random.Random) -> str:
    """Prompts at (or just past) the 6,000-character limit, from grammar pieces."""
    target = DEFAULT_MAX_LENGTH + rng.choice([0, 0, 0, -1, 1, 500])
    pieces: list[str] = []
    size = 0
    while size < target:
        piece = rng.choice(TOKENS)
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces)[:target]


def nested_braces(rng: random.Random) -> str:
    depth = rng.choice([rng.randrange(1, 20), rng.randrange(20, 200), rng.randrange(200, 2999)])
    shape = rng.randrange(4)
    if shape == 0:
        text = "{a, " * depth + "b" + "}" * depth
    elif shape == 1:
        text = "{" * depth + "x" + "}" * depth
    elif shape == 2:  # unbalanced
        text = "{" * depth + "x" + "}" * rng.randrange(depth + 2)
    else:
        text = "a " + "{b, {c, " * (depth // 2) + "d" + "}}" * (depth // 2)
    return text + rng.choice(["", " cat", " --ar 1:1", " --ar {1:1, 2:3}"])


def colon_storm(rng: random.Random) -> str:
    count = rng.choice([rng.randrange(1, 50), rng.randrange(50, 2999)])
    unit = rng.choice(["::", ":::", "a::", "a::2 ", "::-1", "::9999", ":: ", "::.", "::1.5x"])
    text = unit * count
    if rng.random() < 0.5:
        text = "cat " + text
    if rng.random() < 0.3:
        text += "--ar 1:1"
    return text[:DEFAULT_MAX_LENGTH]


def _digits(rng: random.Random) -> str:
    count = rng.choice([rng.randrange(10, 400), rng.randrange(300, 330), rng.randrange(4000, 5900)])
    return rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(count))


def huge_numbers(rng: random.Random) -> str:
    digits = _digits(rng)
    shape = rng.randrange(8)
    if shape == 0:
        text = f"cat {rng.choice(NUMERIC_PARAMS)} {digits}"
    elif shape == 1:
        text = f"cat {rng.choice(NUMERIC_PARAMS)} {digits}.{digits[:50]}"
    elif shape == 2:
        text = f"cat --ar {digits}:{rng.choice(['1', digits])}"
    elif shape == 3:
        text = f"cat --ar 1.{digits}:1"
    elif shape == 4:
        text = f"cat::{digits} dog::{rng.choice(['1', '-' + digits])}"
    elif shape == 5:
        text = f"https://x.com/a.png::{digits} https://x.com/b.png cat"
    elif shape == 6:
        text = f"cat --sref https://x.com/a.png::{digits} 12::{digits}"
    else:
        text = f"cat::{digits}x --ar 1:1"
    return text[: DEFAULT_MAX_LENGTH + rng.choice([0, 0, 1])]


PARAMETER_NAMES = sorted({name for spec in PARAMS for name in spec.names})
RUN_UNITS = ["9", "0", ".", ":", "a", "-", ",", " ", "::", "9.", "9:", ".9", "a::", ":9", "{a,"]
RUN_ENDS = ["", "x", ".", ":", "@", "::", "--", "9", " "]


def long_runs(rng: random.Random, serial: int = 0) -> str:
    """A long run of one small unit, then a character that breaks it, in a parameter's value,
    a weight, a URL or the text: what makes an ambiguous pattern backtrack (``--ar
    999…9:999…9.`` took minutes). ``serial`` walks every (place, unit, end) in turn."""
    unit = RUN_UNITS[serial % len(RUN_UNITS)]
    end = RUN_ENDS[serial // len(RUN_UNITS) % len(RUN_ENDS)]
    place = serial // (len(RUN_UNITS) * len(RUN_ENDS)) % (len(PARAMETER_NAMES) + 3)
    run = unit * (rng.choice([50, 500, 2900, 5900]) // len(unit))
    if rng.random() < 0.5:  # two runs around a separator: `W:H`, `a::b`
        run = run[: len(run) // 2] + rng.choice([":", "::", ".", ","]) + run[: len(run) // 2]
    run += end
    if place < len(PARAMETER_NAMES):
        text = f"cat --{PARAMETER_NAMES[place]} {run}"
    elif place == len(PARAMETER_NAMES):
        text = f"cat::{run} dog"
    elif place == len(PARAMETER_NAMES) + 1:
        text = f"https://x.com/a.png::{run} https://x.com/{run} cat"
    else:
        text = f"{run} --ar 1:1"
    return text[: DEFAULT_MAX_LENGTH + rng.choice([0, 0, 1])]


DENSE = ["--no a ", "a::2 ", "a:: ", "b::-.5 ", "--sref 1::2 ", "https://x.com/a.png ", "x "]


def dense_permutations(rng: random.Random) -> str:
    """The costliest kind: up to 40 permutations of text packed with parameters and ``::``
    (sized around the limit on everything a text expands to)."""
    count = rng.randrange(2, 41)
    group = "{" + ",".join(f"o{i}" for i in range(count)) + "} cat "
    target = min(
        DEFAULT_MAX_LENGTH, int(rng.choice([0.8, 1.0, 1.0, 1.2]) * DEFAULT_MAX_TOTAL_LENGTH / count)
    )
    pieces = [rng.choice(DENSE)] if rng.random() < 0.7 else DENSE
    filler = "".join(rng.choice(pieces) for _ in range(target // 3))
    return (group + filler)[:target]


def mutated_corpus(rng: random.Random) -> str:
    text = rng.choice(CORPUS_PROMPTS)
    for _ in range(rng.randrange(1, 8)):
        cut = rng.randrange(len(text) + 1)
        action = rng.randrange(4)
        if action == 0:
            text = text[:cut] + rng.choice(TOKENS) + text[cut:]
        elif action == 1:
            text = text[:cut] + text[cut + rng.randrange(1, 10) :]
        elif action == 2:
            text = text[:cut] + text[cut:] * rng.randrange(2, 4)
        else:
            text = text[:cut] + _any_char(rng) + text[cut:]
    return text[: DEFAULT_MAX_LENGTH + 1]


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "unicode": unicode_soup,
    "tokens": tokens,
    "long": long_prompt,
    "braces": nested_braces,
    "colons": colon_storm,
    "numbers": huge_numbers,
    "corpus": mutated_corpus,
    "expand": dense_permutations,
    "runs": long_runs,
}
KINDS = [*GENERATORS, "macros"]


@dataclass(frozen=True, slots=True)
class Case:
    kind: str
    text: str
    options: dict[str, str] = field(default_factory=dict)
    suffix: str = ""


def make_case(seed: int, index: int) -> Case:
    rng = random.Random(f"{seed}:{index}")
    kind = KINDS[index % len(KINDS)]
    if kind == "runs":
        return Case(kind, long_runs(rng, index // len(KINDS)))
    if kind != "macros":
        suffix = rng.choice(
            ["", "", "", "--ar 2:3", "--s 50 --no text", "--style cute", "--no a " * 850]
        )
        return Case(kind, GENERATORS[kind](rng), suffix=suffix)
    # /prefer option macros: long values, used many times, with permutations inside
    value = rng.choice(
        [
            "--s 250 --ar 7:4",
            "neon {red, blue, green} --chaos {5, 10}",
            "x" * rng.randrange(1, DEFAULT_MAX_LENGTH),
            "{a,b,c,d} " * rng.randrange(1, 8),
            GENERATORS[rng.choice([*GENERATORS])](rng),
        ]
    )
    uses = rng.choice([1, 2, rng.randrange(3, 500)])
    words = ["--mine", "--mine", "{--mine, b}", "x"]
    text = "cat " + " ".join(rng.choice(words) for _ in range(uses))
    return Case("macros", text[:DEFAULT_MAX_LENGTH], {"mine": value, "other": "--tile"})


# -- running --------------------------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    count: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    escaped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[int]] = field(default_factory=dict)
    over_budget: int = 0
    slowest: list[tuple[float, float, int, str]] = field(default_factory=list)
    """(cpu seconds, wall seconds, index, kind), a min-heap of the slowest."""
    worst_by_kind: dict[str, float] = field(default_factory=dict)


def check(case: Case) -> str | None:
    """``None`` when the parser behaved; otherwise what escaped (``Type: message``)."""
    try:
        prompts = parse(case.text, options=case.options, suffix=case.suffix)
    except PromptError as error:
        source = case.suffix if error.origin == "suffix" else case.text
        if error.source != source or not 0 <= error.start <= error.end <= len(source):
            return f"BadSpan: {type(error).__name__} {error.start}-{error.end} of {len(source)}"
        error.render()
        str(error)
        return None
    except Exception as error:  # counting exactly these is the point
        return f"{type(error).__name__}: {str(error)[:100]}"
    if not prompts:
        return "NoPrompts: parse returned an empty list"
    return None


def run_range(seed: int, start: int, stop: int, keep: int) -> Tally:
    tally = Tally()
    for index in range(start, stop):
        case = make_case(seed, index)
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        try:
            problem = check(case)
        except RecursionError:  # raised while handling: count it, keep going
            problem = "RecursionError: " + traceback.format_exc(limit=1)[-100:]
        cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
        tally.count[case.kind] += 1
        tally.worst_by_kind[case.kind] = max(tally.worst_by_kind.get(case.kind, 0.0), cpu)
        if cpu > BUDGET_S:
            tally.over_budget += 1
        entry = (cpu, wall, index, case.kind)
        if len(tally.slowest) < keep:
            heapq.heappush(tally.slowest, entry)
        elif entry > tally.slowest[0]:
            heapq.heapreplace(tally.slowest, entry)
        if problem is not None:
            kind = problem.split(":", 1)[0]
            tally.escaped[kind] += 1
            tally.examples.setdefault(problem[:80], []).append(index)
    return tally


def merge(tallies: list[Tally], keep: int) -> Tally:
    total = Tally()
    for tally in tallies:
        total.count.update(tally.count)
        total.escaped.update(tally.escaped)
        total.over_budget += tally.over_budget
        for problem, indices in tally.examples.items():
            total.examples.setdefault(problem, []).extend(indices)
        total.slowest.extend(tally.slowest)
        for kind, worst in tally.worst_by_kind.items():
            total.worst_by_kind[kind] = max(total.worst_by_kind.get(kind, 0.0), worst)
    total.slowest = heapq.nlargest(keep, total.slowest)
    return total


def _preview(text: str) -> str:
    shown = repr(text[:70]) + ("…" if len(text) > 70 else "")
    return f"{len(text):5d} chars {shown}"


def report(total: Tally, seed: int, elapsed: float) -> None:
    prompts = sum(total.count.values())
    print(f"prompts: {prompts:,} (seed {seed}) in {elapsed:,.0f} s")
    for kind in KINDS:
        worst = total.worst_by_kind.get(kind, 0.0) * 1000
        print(f"  {kind:8s} {total.count[kind]:>9,}  slowest {worst:7.2f} ms")
    escaped = sum(total.escaped.values())
    print(f"non-PromptError exceptions: {escaped:,}")
    for kind, count in total.escaped.most_common():
        print(f"  {kind}: {count:,}")
    for problem, indices in sorted(total.examples.items(), key=lambda p: -len(p[1]))[:10]:
        print(f"    {len(indices):>7,} × {problem}  (e.g. --only {indices[0]})")
    print(f"prompts over {BUDGET_S * 1000:.0f} ms (CPU): {total.over_budget:,}")
    print("slowest (CPU ms, wall ms, index, kind, prompt):")
    for cpu, wall, index, kind in sorted(total.slowest, reverse=True):
        text = make_case(seed, index).text
        print(f"  {cpu * 1000:7.2f} {wall * 1000:7.2f}  #{index:<8d} {kind:8s} {_preview(text)}")


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("count", type=int, nargs="?", default=100_000, help="prompts to try")
    cli.add_argument("--seed", type=int, default=0)
    cli.add_argument("--jobs", type=int, default=1, help="processes")
    cli.add_argument("--slowest", type=int, default=10, help="how many slowest to list")
    cli.add_argument("--only", type=int, help="run and show prompt number ONLY")
    args = cli.parse_args()
    if args.only is not None:
        case = make_case(args.seed, args.only)
        print(json.dumps({"kind": case.kind, "options": case.options, "suffix": case.suffix}))
        print(_preview(case.text))
        print(check(case) or "ok")
        return
    started = time.perf_counter()
    step = -(-args.count // args.jobs)
    ranges = [
        (args.seed, start, min(start + step, args.count), args.slowest)
        for start in range(0, args.count, step)
    ]
    if args.jobs == 1:
        tallies = [run_range(*ranges[0])]
    else:
        with multiprocessing.Pool(args.jobs) as pool:
            tallies = pool.starmap(run_range, ranges)
    report(merge(tallies, args.slowest), args.seed, time.perf_counter() - started)


if __name__ == "__main__":
    main()
