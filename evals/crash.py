"""Kill -9 trials for `rag ingest`, `rag add` and `rag remove`: `python evals/crash.py [N]`.

Each trial kills the real CLI at a random moment on a copy of a small corpus and checks
that the folder and the index are exactly the old or the new state (evals/crash_harness.py).
Prints one line per trial and a summary table; exits non-zero on the first inconsistency.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.crash_harness import CrashBench, run_trials  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.documents import ensure_index  # noqa: E402
from rag.embedding import build_embedder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trials", type=int, nargs="?", default=24)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    settings = Settings()
    embedder = build_embedder(settings)
    ensure_index(settings, embedder)  # the seed index lends its vectors to the small corpus
    with tempfile.TemporaryDirectory() as tmp:
        bench = CrashBench(Path(tmp), embedder, settings.index_dir)
        print(
            "uninterrupted seconds: "
            + ", ".join(f"{k} {v:.1f}" for k, v in bench.durations.items())
        )
        report = run_trials(bench, args.trials, args.seed)
    for trial in report.trials:
        print(trial)
    print(report.table())


if __name__ == "__main__":
    main()
