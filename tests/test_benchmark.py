"""Smoke test of the benchmark's in-process parts (no server, no timing assertions)."""

from __future__ import annotations

import math
from dataclasses import replace

import bm25s
import numpy as np

from evals.bench import format_report
from evals.bench_dense import recommend_dense
from evals.bench_plan import QUICK
from evals.bench_scale import measure_scale, numpy_bm25, prepare_scale_inputs, synthetic_token_ids
from evals.harness import latency_stats
from rag.evaluation import load_questions
from rag.services import Services
from tests.conftest import QUESTIONS


def test_scale_measurement_and_report(services: Services) -> None:
    questions = [q.question for q in load_questions(QUESTIONS)][:20]
    inputs = prepare_scale_inputs(services, questions, query_count=40)
    assert inputs.queries.shape == (40, services.embedder.dim)

    flat = measure_scale(services, inputs, 2_000, QUICK)
    # A threshold below the size exercises the IVF path, its nprobe sweep and the HNSW one.
    plan = replace(QUICK, ef_sweep=(16, 64), nprobe_sweep=(1, 4), hnsw_compare_max_n=2_000)
    ivf = measure_scale(services, inputs, 2_000, plan, dense_threshold=1_000)

    assert flat["dense"]["kind"] == "flat" and ivf["dense"]["kind"] == "ivf"
    assert flat["dense"]["recall_at_10"] == 1.0
    for result in (flat, ivf):
        assert result["chunks"] == 2_000
        dense, bm25, hybrid = result["dense"], result["bm25"], result["hybrid"]
        assert 0.0 <= dense["recall_at_10"] <= 1.0
        assert dense["disk_mb"] > 0 and bm25["disk_mb"] > 0 and bm25["postings"] > 0
        for value in (
            dense["search_p50_ms"],
            dense["search_p95_ms"],
            bm25["search_p50_ms"],
            bm25["search_p95_ms"],
            hybrid["p50_ms"],
            hybrid["p95_ms"],
        ):
            assert value > 0 and math.isfinite(value)
    sweep = ivf["dense"]["sweep"]
    assert [(row["param"], row["value"]) for row in sweep] == [
        ("nprobe", 1),
        ("nprobe", 4),
        ("efSearch", 16),
        ("efSearch", 64),
    ]
    assert all(0.0 <= row["recall"] <= 1.0 for row in sweep)
    # More cells probed never finds fewer of the exact neighbours.
    assert sweep[1]["recall"] >= sweep[0]["recall"]

    report = format_report(
        {
            "started_at": "now",
            "quick": True,
            "machine": {"cpus": 2},
            "retrieval": {"hybrid_cold": latency_stats([30.0, 31.5, 40.25])},
            "scale": [flat, ivf],
            "dense_recommendation": recommend_dense([flat, ivf]),
        }
    )
    assert "2,000 dense flat" in report and "2,000 dense ivf" in report
    assert "HNSW M=32 efSearch=64" in report and "nprobe=4" in report
    assert "best IVF at 2,000" in report
    assert "31.50" in report  # the p50 of the latencies above
    assert f"{flat['dense']['search_p50_ms']:.2f}" in report


def test_numpy_bm25_builds_what_bm25s_builds(services: Services) -> None:
    """The 10^6 step builds BM25 with numpy; it must be the very index bm25s would build."""
    inputs = prepare_scale_inputs(services, ["北塔区村党组织书记的待遇提高了多少?"], 1)
    rng = np.random.default_rng(1)
    token_ids = synthetic_token_ids(inputs, rng.integers(0, len(inputs.chunk_ids), 3_000), rng)
    reference = bm25s.BM25()
    reference.index((token_ids, dict(inputs.vocab)), show_progress=False)
    fast = numpy_bm25(token_ids, inputs.vocab)
    assert fast.vocab_dict == reference.vocab_dict
    assert fast.scores["num_docs"] == reference.scores["num_docs"]
    np.testing.assert_array_equal(fast.scores["indptr"], reference.scores["indptr"])
    np.testing.assert_array_equal(fast.scores["indices"], reference.scores["indices"])
    np.testing.assert_allclose(fast.scores["data"], reference.scores["data"], rtol=1e-6)
    assert fast.scores["data"].dtype == reference.scores["data"].dtype
