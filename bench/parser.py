"""Parser throughput over the real-world corpus: prompts/second (expected: tens of thousands).

Run: .venv/bin/python bench/parser.py [--seconds S]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parser import parse  # noqa: E402

CORPUS = ROOT / "tests" / "parser" / "data" / "corpus.txt"


def load() -> list[str]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def one_pass(corpus: list[str]) -> tuple[float, int]:
    made = 0
    start = time.perf_counter()
    for text in corpus:
        made += len(parse(text))
    return time.perf_counter() - start, made


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("--seconds", type=float, default=3.0, help="how long to measure")
    args = cli.parse_args()
    corpus = load()
    one_pass(corpus)  # warm-up: regex compilation, imports
    rates: list[float] = []
    made = 0
    deadline = time.perf_counter() + args.seconds
    while time.perf_counter() < deadline:
        elapsed, made = one_pass(corpus)
        rates.append(len(corpus) / elapsed)
    chars = sum(len(t) for t in corpus)
    print(
        f"corpus: {len(corpus)} prompts, {chars / len(corpus):.0f} characters on average, "
        f"{made} prompts after permutations"
    )
    print(f"passes: {len(rates)}")
    print(
        f"prompts/second: median {statistics.median(rates):,.0f}, best {max(rates):,.0f}, "
        f"worst {min(rates):,.0f}"
    )
    print(f"microseconds/prompt: {1e6 / statistics.median(rates):.1f}")


if __name__ == "__main__":
    main()
