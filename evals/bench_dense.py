"""Benchmark of the FAISS index at scale: build, latency and recall@10 against exact search
of the index `DenseIndex` picks for a size, and of the alternatives over their parameters.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from evals.bench_plan import Plan
from evals.harness import folder_mb, latency_stats, rss_mb, timed_ms
from rag.config import Settings
from rag.index.dense import HNSW_EF_CONSTRUCTION, HNSW_M, DenseIndex, DenseParams

RECALL_AT = 10
TARGET_DENSE_P50_MS = 10.0
TARGET_RECALL = 0.95


def recall(found: list[np.ndarray], exact: np.ndarray, k: int = RECALL_AT) -> float:
    """Mean share of the exact top-k that the index returned in its top-k."""
    hits = [
        len(set(f[:k].tolist()) & set(e[:k].tolist())) / k
        for f, e in zip(found, exact, strict=True)
    ]
    return round(float(np.mean(hits)), 4)


def search_sweep(index: faiss.Index, queries: np.ndarray, exact: np.ndarray) -> dict[str, Any]:
    """Latency (one query at a time, one thread) and recall@10 of `index` as configured."""
    latencies, found = [], []
    for q in queries:
        ms, (_, rows) = timed_ms(index.search, q.reshape(1, -1), RECALL_AT)
        latencies.append(ms)
        found.append(rows[0])
    stats = latency_stats(latencies)
    return {"p50": stats["p50"], "p95": stats["p95"], "recall": recall(found, exact)}


def param_sweep(
    index: faiss.Index,
    name: str,
    param: str,
    values: tuple[int, ...],
    queries: np.ndarray,
    exact: np.ndarray,
    build_s: float,
) -> list[dict[str, Any]]:
    """One built index at several search-time settings (efSearch or nprobe: no rebuild)."""
    rows = []
    for value in values:
        if param == "nprobe":
            index.nprobe = value
        else:
            index.hnsw.efSearch = value
        measured = search_sweep(index, queries, exact)
        rows.append({"index": name, "param": param, "value": value, "build_s": build_s} | measured)
    return rows


def build_hnsw(vectors: np.ndarray, m: int, threads: int) -> tuple[faiss.Index, float]:
    """HNSW with another M (same efConstruction as DenseIndex), and its build seconds."""
    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    with faiss_threads(threads):
        build_ms, _ = timed_ms(index.add, vectors)
    return index, round(build_ms / 1000, 2)


@contextmanager
def faiss_threads(threads: int) -> Iterator[None]:
    """FAISS OpenMP threads for the block (builds, ground truth), then back to the setting."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def measure_dense_scale(
    vectors: np.ndarray,
    queries: np.ndarray,
    settings: Settings,
    plan: Plan,
    folder: Path,
    dense_threshold: int,
) -> tuple[dict[str, Any], DenseIndex]:
    """Build the index `DenseIndex.build` picks for `vectors`; latency and recall of `queries`
    against exact search.

    An IVF index is swept over nprobe (no rebuild); up to `plan.hnsw_compare_max_n` chunks
    an HNSW index is also built and swept over efSearch, the alternative IVF was chosen over.
    """
    n = len(vectors)
    build_threads = 2 if n >= plan.parallel_build_from else settings.threads
    params = replace(DenseParams.from_settings(settings), threshold=dense_threshold)
    before = rss_mb()
    with faiss_threads(build_threads):
        build_ms, dense = timed_ms(DenseIndex.build, vectors, params)
    memory = rss_mb() - before
    dense.save(folder)
    exact_index = faiss.IndexFlatIP(vectors.shape[1])
    exact_index.add(vectors)
    with faiss_threads(os.cpu_count() or 1):  # ground truth only
        _, exact = exact_index.search(queries, RECALL_AT)
    measured = search_sweep(dense.index, queries, exact)
    flat = search_sweep(exact_index, queries[:20], exact[:20])
    del exact_index
    result: dict[str, Any] = {
        "kind": dense.kind,
        "build_s": round(build_ms / 1000, 2),
        "build_threads": build_threads,
        "disk_mb": folder_mb(folder / DenseIndex.FILE),
        "rss_delta_mb": round(memory, 1),
        "search_p50_ms": measured["p50"],
        "search_p95_ms": measured["p95"],
        "recall_at_10": measured["recall"],
        "exact_p50_ms": flat["p50"],
    }
    if dense.kind == "flat":
        return result, dense
    sweep: list[dict[str, Any]] = []
    if dense.kind == "ivf":
        result["params"] = {"nlist": int(dense.index.nlist), "nprobe": params.nprobe}
        name = f"IVF{dense.index.nlist}"
        sweep += param_sweep(
            dense.index, name, "nprobe", plan.nprobe_sweep, queries, exact, result["build_s"]
        )
        dense.configure(params)
    if dense.kind == "hnsw" or n <= plan.hnsw_compare_max_n:
        index, seconds = build_hnsw(vectors, HNSW_M, build_threads)
        sweep += param_sweep(
            index, f"HNSW M={HNSW_M}", "efSearch", plan.ef_sweep, queries, exact, seconds
        )
        del index
    result["sweep"] = sweep
    return result, dense


def recommend_dense(scale: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Per index kind, at the largest size it was swept: the fastest setting meeting both
    targets (p50 < 10 ms, recall@10 >= 0.95), or None when no swept setting does."""
    best: dict[str, Any] = {}
    for kind in ("HNSW", "IVF"):
        sizes = [
            (s["chunks"], [r for r in s["dense"].get("sweep") or [] if r["index"].startswith(kind)])
            for s in scale
        ]
        sizes = [(n, rows) for n, rows in sizes if rows]
        if not sizes:
            continue
        n, rows = sizes[-1]
        ok = [r for r in rows if r["recall"] >= TARGET_RECALL and r["p50"] < TARGET_DENSE_P50_MS]
        best[kind.lower()] = {"chunks": n} | (min(ok, key=lambda r: r["p50"]) if ok else {})
    return best or None
