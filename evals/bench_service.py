"""Benchmark of the service as users see it: the seed index build, in-process retrieval
and answers, and a real `rag serve` over HTTP, one request at a time and under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

import httpx

from evals.bench_plan import Plan
from evals.harness import Server, each_ms, latency_stats, timed_ms
from rag.config import Settings
from rag.documents import rebuild
from rag.embedding import build_embedder
from rag.errors import RagError
from rag.index.generations import POINTER, current_generation
from rag.retrieval import Retriever
from rag.services import Services

MODES_ORDER = ("dense", "bm25", "hybrid")


# -- start-up ------------------------------------------------------------------------------
def measure_build(settings: Settings, reuse_from: Path | None = None) -> dict[str, Any]:
    """Build the seed index into `settings.index_dir`: what `rag ingest` costs on a new machine.

    `reuse_from` (quick runs) copies an existing index first, so only changed passages are
    embedded, as `rag ingest` does on a rebuild.
    """
    if reuse_from is not None:
        with contextlib.suppress(RagError, OSError):
            live = current_generation(reuse_from)
            shutil.copytree(live, settings.index_dir / live.name)
            (settings.index_dir / POINTER).write_text(live.name, "utf-8")
    embedder = build_embedder(settings)
    report = rebuild(settings, embedder)
    return {
        "chunks": report.manifest.chunks,
        "documents": report.manifest.documents,
        "seconds": round(report.seconds, 2),
        "embed_seconds": round(report.embed_seconds, 2),
        "embedded": report.embedded,
        "chunks_per_s": round(report.embedded / max(report.embed_seconds, 1e-9), 2),
        "reused_vectors": report.manifest.chunks - report.embedded,
    }


# -- in-process latency --------------------------------------------------------------------
def measure_retrieval(services: Services, questions: list[str]) -> dict[str, Any]:
    """Retriever.search per mode: cold (a cache-less retriever embeds every query) vs cached."""
    settings = services.settings
    cold = Retriever(
        services.bundle,
        services.embedder,
        candidates=settings.fusion_candidates,
        rrf_k=settings.rrf_k,
        cache_size=0,
    )
    warm = Retriever(
        services.bundle,
        services.embedder,
        candidates=settings.fusion_candidates,
        rrf_k=settings.rrf_k,
        cache_size=max(len(questions), 1),
    )
    for q in questions:
        warm.embed_query(q)
    result: dict[str, Any] = {}
    for mode in MODES_ORDER:
        result[f"{mode}_cold"] = latency_stats(
            each_ms(cold.search, questions, settings.top_k, mode)
        )
        result[f"{mode}_cached"] = latency_stats(
            each_ms(warm.search, questions, settings.top_k, mode)
        )
    result["embed_query"] = latency_stats(
        each_ms(services.embedder.embed_queries, [[q] for q in questions])
    )
    return result


def measure_answers(services: Services, questions: list[str]) -> dict[str, Any]:
    """Answerer.answer (extractive) on questions it has not seen: what a new question costs."""
    answerer = Services.from_parts(services.settings, services.embedder, services.bundle).answerer
    total, retrieve, generate = [], [], []
    for q in questions:
        ms, answer = timed_ms(answerer.answer, q, llm="extractive")
        total.append(ms)
        retrieve.append(answer.timings_ms.get("retrieve", 0.0))
        generate.append(answer.timings_ms.get("generate", 0.0))
    return {
        "total": latency_stats(total),
        "retrieve": latency_stats(retrieve),
        "generate": latency_stats(generate),
    }


# -- over HTTP -----------------------------------------------------------------------------
def measure_http(server: Server, questions: list[str], top_k: int) -> dict[str, Any]:
    """Sequential requests. /v1/ask goes first, so each question is new to the server
    (its query vector is embedded); /v1/search then finds the vectors in the server cache."""
    ask, search, errors = [], [], 0
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60.0) as client:
        for q in questions:
            ms, response = timed_ms(client.post, "/v1/ask", json={"question": q, "k": top_k})
            ask.append(ms)
            errors += response.status_code != 200
        for q in questions:
            params = {"q": q, "k": top_k, "mode": "hybrid"}
            ms, response = timed_ms(client.get, "/v1/search", params=params)
            search.append(ms)
            errors += response.status_code != 200
    return {
        "ask_new": latency_stats(ask),
        "search_cached": latency_stats(search),
        "errors": errors,
    }


async def load_level(
    server: Server,
    questions: list[str],
    concurrency: int,
    seconds: float,
    max_requests: int,
    top_k: int,
) -> dict[str, Any]:
    """`concurrency` clients POST /v1/ask back to back until the time or request budget ends."""
    latencies: list[float] = []
    errors = issued = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=server.url, headers=server.headers, timeout=60.0, limits=limits
    ) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def client_loop() -> None:
            nonlocal errors, issued
            while issued < max_requests and time.perf_counter() < deadline:
                question = questions[issued % len(questions)]
                issued += 1
                sent = time.perf_counter()
                try:
                    response = await client.post("/v1/ask", json={"question": question, "k": top_k})
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - sent) * 1000)
                else:
                    errors += 1

        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "requests": len(latencies) + errors,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "qps": round(len(latencies) / elapsed, 2),
        "latency": latency_stats(latencies),
    }


def measure_load(server: Server, questions: list[str], plan: Plan, top_k: int) -> list[dict]:
    """Throughput of /v1/ask under 1, 4 and 16 concurrent clients (questions repeat)."""
    return [
        asyncio.run(
            load_level(server, questions, c, plan.load_seconds, plan.load_max_requests, top_k)
        )
        for c in plan.concurrency
    ]
