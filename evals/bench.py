"""Run the performance benchmark and print its table: `python evals/bench.py [--quick]`.

The same as `rag bench`; the full result is written to evals/results/bench-<timestamp>.json.
"""

from __future__ import annotations

import argparse

from rag.benchmark import format_report, run_benchmark
from rag.config import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^4 chunks and a short load test")
    args = parser.parse_args()
    print(format_report(run_benchmark(Settings(), quick=args.quick)))


if __name__ == "__main__":
    main()
