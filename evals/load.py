"""Mixed load against a real `rag serve` process: `python evals/load.py [--seconds 60]`.

32 clients ask, search and read documents while one article is re-added every 3 seconds,
for `--runs` runs of `--seconds` each against one server process (on a copy of the corpus
and index). Prints p50/p99 and q/s per request kind, errors, and the server's resident
memory after each run (it should not grow from run to run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.harness import rss_mb, wait_ready  # noqa: E402
from evals.load_harness import run_load  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.documents import ensure_index  # noqa: E402
from rag.embedding import build_embedder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    settings = Settings()
    ensure_index(settings, build_embedder(settings))
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(settings.source_dir, Path(tmp) / "seeds")
        shutil.copytree(settings.index_dir, Path(tmp) / "index")
        env = {
            **os.environ,
            "RAG_SOURCE_DIR": f"{tmp}/seeds",
            "RAG_INDEX_DIR": f"{tmp}/index",
            "OMP_NUM_THREADS": "1",
        }
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "rag.api.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--log-level",
            "warning",
        ]
        server = subprocess.Popen(command, env=env)
        url = f"http://127.0.0.1:{args.port}"
        try:
            if wait_ready(url, server, timeout=120) is None:
                raise SystemExit("the server did not become ready")
            print(f"server ready, RSS {rss_mb(server.pid):.0f} MB")
            failed = False
            for run in range(1, args.runs + 1):
                report = run_load(url, args.seconds, args.clients, seed=run * 1000)
                print(
                    f"\nrun {run}: {args.clients} clients, {args.seconds:.0f}s, "
                    f"server RSS after: {rss_mb(server.pid):.0f} MB"
                )
                print(report.table())
                for error in report.errors[:5]:
                    print("  error:", error)
                failed = failed or bool(report.errors)
        finally:
            server.terminate()
            server.wait(timeout=30)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
