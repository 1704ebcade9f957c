"""What a benchmark run measures (`python evals/bench.py`): the full plan or a quick one.

Its own module because every part of the benchmark reads it (service, dense, scale).
"""

from __future__ import annotations

from dataclasses import dataclass

EF_SWEEP = (64, 96, 128, 192, 256, 384, 512)


@dataclass(frozen=True)
class Plan:
    """How much to measure: the full run or a quick one (10^4 chunks, short load test).

    The full run used to take 12.6 min, 8 of them building an HNSW index at 10^6 chunks;
    DenseIndex now picks IVF there (~20 s), and HNSW is built for comparison only up to
    `hnsw_compare_max_n` chunks.
    """

    scale_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    max_questions: int | None = None  # None: all of evals/questions.jsonl
    concurrency: tuple[int, ...] = (1, 4, 16)
    load_seconds: float = 8.0
    load_max_requests: int = 200
    query_count: int = 200
    ef_sweep: tuple[int, ...] = EF_SWEEP
    hnsw_compare_max_n: int = 100_000  # HNSW beside the chosen index up to this size
    nprobe_sweep: tuple[int, ...] = (4, 8, 16, 32)
    # Builds at 10^6 run on both cores (k-means); searches are measured on one.
    parallel_build_from: int = 1_000_000
    # bm25s builds in a per-document Python loop (minutes at 10^6): above this size the
    # same matrix is built with numpy, and the bm25s time extrapolated from this many.
    bm25s_max_n: int = 100_000


FULL = Plan()
QUICK = Plan(
    scale_sizes=(10_000,),
    max_questions=30,
    concurrency=(1, 4),
    load_seconds=2.0,
    load_max_requests=30,
    query_count=100,
    ef_sweep=(),
    hnsw_compare_max_n=0,
    nprobe_sweep=(),
)
