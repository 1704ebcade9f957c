"""Mixed load: 32 concurrent clients ask, search and read documents while an article is
re-added every few seconds. No errors, no answer given to the wrong request, and memory
does not grow from one run to the next.

This is the short version (three 10-second runs against an in-process server); the figures
for the README come from `python evals/load.py` (three 60-second runs, a separate server
process).
"""

from __future__ import annotations

import gc

import pytest

from evals.harness import rss_mb
from evals.load_harness import run_load
from rag.services import Services
from tests.api_server import start_server
from tests.test_api_updates import live_server


@pytest.mark.slow
def test_mixed_load_has_no_errors_and_stable_memory(index_copy, services: Services) -> None:
    with live_server(index_copy, services) as http:
        url = str(http.base_url).rstrip("/")
        memory = []
        for run in range(3):
            report = run_load(url, seconds=10, clients=32, add_every=3.0, seed=run)
            print(f"\nrun {run + 1}:\n{report.table()}")
            assert report.errors == [], report.errors[:5]
            assert report.adds >= 1
            assert {"ask", "search", "document"} <= set(report.latencies)
            gc.collect()
            memory.append(rss_mb())
        print("RSS after each run (MB):", [round(m) for m in memory])
    # The first run warms caches up; after it, a leak would show as steady growth.
    assert memory[2] - memory[1] < 100, memory


def test_the_harness_counts_refused_requests_as_errors(services: Services) -> None:
    """The load checks are not vacuous: a server refusing every /v1 call fails them."""
    with start_server(services, api_key="k") as url:
        report = run_load(url, seconds=1, clients=2, add_every=60.0, seed=1)
    assert report.requests > 0 and len(report.errors) == report.requests
    assert all("401" in error for error in report.errors)
