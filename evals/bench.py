"""Run the performance benchmark and print its table: `python evals/bench.py [--quick]`.

`make bench` runs the full one. Start-up, latency, throughput, memory and scale, all on
this machine with the real components: the seed index is rebuilt into a temporary folder
(bench_service.py), a real `rag serve` process answers HTTP, and the scale step builds the
real `DenseIndex` (bench_dense.py) and `LexicalIndex` over synthetic corpora of
10^4..10^6 chunks made from the seed chunks (bench_scale.py; no new text is embedded: that
would take hours). Nothing is asserted; the full result is written to
evals/results/bench-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evals.bench_dense import recommend_dense  # noqa: E402 - after the path set-up
from evals.bench_plan import FULL, QUICK  # noqa: E402
from evals.bench_scale import measure_scale, prepare_scale_inputs  # noqa: E402
from evals.bench_service import (  # noqa: E402
    measure_answers,
    measure_build,
    measure_http,
    measure_load,
    measure_retrieval,
)
from evals.harness import rss_mb, running_server  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embedding import limit_threads  # noqa: E402
from rag.evaluation import load_questions  # noqa: E402
from rag.services import Services  # noqa: E402

QUESTIONS = ROOT / "evals" / "questions.jsonl"


# -- the whole run -------------------------------------------------------------------------
def http_available() -> str | None:
    """Why the HTTP part cannot run, or None when it can."""
    if (
        importlib.util.find_spec("rag.api") is None
        or importlib.util.find_spec("rag.api.app") is None
    ):
        return "rag/api/app.py does not exist yet: HTTP measurements skipped"
    return None


def run_benchmark(
    settings: Settings,
    *,
    quick: bool = False,
    out_dir: Path = Path("evals/results"),
    questions_path: Path = QUESTIONS,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> dict[str, Any]:
    """Measure everything in `Plan` (QUICK or FULL), write bench-<timestamp>.json, return it."""
    plan = QUICK if quick else FULL
    started = time.perf_counter()
    limit_threads(settings.threads)
    questions = [q.question for q in load_questions(questions_path)][: plan.max_questions]
    result: dict[str, Any] = {
        "started_at": datetime.now().isoformat(timespec="seconds"),
        "quick": quick,
        "machine": {"cpus": os.cpu_count(), "threads": settings.threads},
        "questions": len(questions),
    }
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        index_settings = settings.model_copy(
            update={"index_dir": Path(tmp) / "index", "source_dir": settings.source_dir.resolve()}
        )
        log("building the seed index into a temporary folder")
        reuse = settings.index_dir if quick else None
        result["build"] = measure_build(index_settings, reuse_from=reuse)
        services = Services.start(index_settings, build_if_needed=False)
        log("in-process retrieval and answers")
        result["retrieval"] = measure_retrieval(services, questions)
        result["answer"] = measure_answers(services, questions)
        skipped = http_available()
        if skipped:
            log(skipped)
            result["server"] = {"skipped": skipped}
        else:
            log("starting `rag serve` and measuring HTTP")
            with running_server(index_settings, Path(tmp) / "server.log") as server:
                result["server"] = {"ready_s": server.ready_seconds, "rss_mb": rss_mb(server.pid)}
                result["http"] = measure_http(server, questions, settings.top_k)
                result["load"] = measure_load(server, questions, plan, settings.top_k)
                result["server"]["rss_mb_after_load"] = rss_mb(server.pid)
        inputs = prepare_scale_inputs(services, questions, plan.query_count)
        result["scale"] = []
        for n in plan.scale_sizes:
            log(f"scale: {n:,} synthetic chunks")
            result["scale"].append(measure_scale(services, inputs, n, plan))
            gc.collect()
    result["dense_recommendation"] = recommend_dense(result["scale"])
    result["seconds"] = round(time.perf_counter() - started, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2), "utf-8")
    result["path"] = str(path)
    return result


# -- the report ----------------------------------------------------------------------------
def format_report(result: dict[str, Any]) -> str:
    """One plain-text table: measurement, p50/p95/p99 in ms, and a note."""
    rows: list[tuple[str, Any, Any, Any, str]] = []

    def add(name: str, stats: dict | None, note: str = "") -> None:
        stats = stats or {}
        rows.append((name, stats.get("p50"), stats.get("p95"), stats.get("p99"), note))

    build = result.get("build")
    if build:
        embedding = (
            f"embedding {build['chunks_per_s']:.1f} chunks/s ({build['embedded']} embedded)"
            if build["embedded"]
            else "vectors reused from the live index"
        )
        add(
            f"build seed index ({build['chunks']} chunks)",
            None,
            f"{build['seconds']:.1f} s; {embedding}",
        )
    server = result.get("server") or {}
    if "skipped" in server:
        add("server", None, server["skipped"])
    elif server:
        add(
            "server start -> /readyz 200",
            None,
            f"{server['ready_s']:.1f} s; RSS {server['rss_mb']:.0f} MB "
            f"({server.get('rss_mb_after_load', float('nan')):.0f} MB after load test)",
        )
    for key, stats in (result.get("retrieval") or {}).items():
        name = (
            "embed one query"
            if key == "embed_query"
            else "Retriever.search " + key.replace("_", " (") + ")"
        )
        add(name, stats)
    answer = result.get("answer")
    if answer:
        add("Answerer.answer extractive", answer["total"], "new questions")
        add("  of which retrieve", answer["retrieve"])
        add("  of which generate", answer["generate"])
    http = result.get("http")
    if http:
        add("HTTP POST /v1/ask", http["ask_new"], f"new questions; {http['errors']} errors")
        add("HTTP GET /v1/search hybrid", http["search_cached"], "query vectors cached")
    for level in result.get("load") or []:
        add(
            f"load /v1/ask x{level['concurrency']}",
            level["latency"],
            f"{level['qps']:.1f} q/s; {level['requests']} requests, {level['errors']} errors",
        )
    for scale in result.get("scale") or []:
        n, dense, bm25, hybrid = scale["chunks"], scale["dense"], scale["bm25"], scale["hybrid"]
        add(
            f"{n:>9,} dense {dense['kind']}",
            {"p50": dense["search_p50_ms"], "p95": dense["search_p95_ms"]},
            f"recall@10 {dense['recall_at_10']:.3f}; build {dense['build_s']:.1f} s "
            f"({dense['build_threads']} thr); {dense['disk_mb']:.0f} MB disk; "
            f"+{dense['rss_delta_mb']:.0f} MB RSS; exact p50 {dense['exact_p50_ms']:.1f} ms",
        )
        for row in dense.get("sweep") or []:
            add(
                f"{'':>9}   {row['index']} {row['param']}={row['value']}",
                row,
                f"recall@10 {row['recall']:.3f}; build {row['build_s']:.1f} s",
            )
        add(
            f"{n:>9,} bm25",
            {"p50": bm25["search_p50_ms"], "p95": bm25["search_p95_ms"]},
            f"scoring p50/p95 {bm25['scores_p50_ms']:.1f}/{bm25['scores_p95_ms']:.1f} ms; "
            f"without pre-filter p50 {bm25.get('no_prefilter_p50_ms', float('nan')):.1f} ms; "
            f"build {bm25['bm25s_build_s']:.1f} s"
            f"{'' if bm25['bm25s_build_measured'] else ' (extrapolated)'} "
            f"+ jieba ~{bm25['tokenize_s_estimated']:.0f} s; "
            f"{bm25['disk_mb']:.0f} MB disk; +{bm25['rss_delta_mb']:.0f} MB RSS",
        )
        add(f"{n:>9,} hybrid (no embedding)", {"p50": hybrid["p50_ms"], "p95": hybrid["p95_ms"]})
    for kind, best in (result.get("dense_recommendation") or {}).items():
        note = (
            f"{best['index']} {best['param']}={best['value']}: p50 {best['p50']:.2f} ms, "
            f"recall@10 {best['recall']:.3f}, build {best['build_s']:.0f} s"
            if "index" in best
            else "no swept setting meets p50 < 10 ms and recall@10 >= 0.95"
        )
        add(f"best {kind.upper()} at {best['chunks']:,}", None, note)

    def cell(value: Any) -> str:
        return "" if value is None else f"{value:.2f}"

    width = max(len(r[0]) for r in rows) if rows else 20
    header = f"{'measurement':<{width}}  {'p50 ms':>9}  {'p95 ms':>9}  {'p99 ms':>9}  note"
    lines = [
        f"rag benchmark {result.get('started_at', '')}  quick={result.get('quick')}  "
        f"cpus={result.get('machine', {}).get('cpus')}  {result.get('seconds', '?')} s",
        header,
        "-" * len(header),
    ]
    lines += [
        f"{name:<{width}}  {cell(p50):>9}  {cell(p95):>9}  {cell(p99):>9}  {note}".rstrip()
        for name, p50, p95, p99, note in rows
    ]
    if result.get("path"):
        lines.append(f"full result: {result['path']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^4 chunks and a short load test")
    args = parser.parse_args()
    print(format_report(run_benchmark(Settings(), quick=args.quick)))


if __name__ == "__main__":
    main()
