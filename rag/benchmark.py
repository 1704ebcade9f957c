"""Performance benchmark (`rag bench`): start-up, latency, throughput, memory and scale.

Everything runs on this machine with the real components: the seed index is rebuilt into a
temporary folder, a real `rag serve` process answers HTTP, and the scale step builds the
real `DenseIndex`/`LexicalIndex` over synthetic corpora of 10^4..10^6 chunks made from the
seed chunks (no new text is embedded: that would take hours). Nothing is asserted; the
result is a JSON-able dict, written to `evals/results/bench-<timestamp>.json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any

import bm25s
import faiss
import httpx
import numpy as np

from rag.chunking import sentence_spans
from rag.config import Settings
from rag.embedding import build_embedder, limit_threads
from rag.errors import RagError
from rag.evaluation import load_questions, percentile
from rag.index import build_index
from rag.index.builder import passage_text
from rag.index.dense import HNSW_EF_CONSTRUCTION, HNSW_M, DenseIndex, DenseParams
from rag.index.lexical import LexicalIndex, Tokenizer
from rag.index.storage import POINTER, current_generation
from rag.retrieval import Retriever
from rag.services import Services

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "evals" / "questions.jsonl"
MODES_ORDER = ("dense", "bm25", "hybrid")
EF_SWEEP = (64, 96, 128, 192, 256, 384, 512)
RECALL_AT = 10
# Synthetic vectors: a seed vector plus Gaussian noise with the seed vectors' own covariance
# times NOISE_SCALE**2 (cosine to the source ~0.98, about the gap between real neighbouring
# chunks). Isotropic noise instead gives 384 intrinsic dimensions, far from real text
# embeddings (~30 here), and makes every approximate index look much worse than it would be.
NOISE_SCALE = 0.5
TARGET_DENSE_P50_MS = 10.0
TARGET_RECALL = 0.95
BM25S_SAMPLE = 20_000


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


# -- small helpers -------------------------------------------------------------------------
def latency_stats(ms: list[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of latencies in milliseconds (same percentile as `rag eval`)."""
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 3),
        "p95": round(percentile(ms, 95), 3),
        "p99": round(percentile(ms, 99), 3),
        "mean": round(sum(ms) / len(ms), 3) if ms else 0.0,
    }


def timed_ms(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """(milliseconds, value) of one call."""
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, value


def each_ms(fn: Callable[..., Any], items: list, *args: Any, **kwargs: Any) -> list[float]:
    """Milliseconds of fn(item, *args, **kwargs) for each item, one after the other."""
    return [timed_ms(fn, item, *args, **kwargs)[0] for item in items]


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size from /proc (what the OS has to keep in RAM for the process)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def folder_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 2)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    report = build_index(settings, embedder)
    return {
        "chunks": report.manifest.chunks,
        "documents": report.manifest.documents,
        "seconds": round(report.seconds, 2),
        "embed_seconds": round(report.embed_seconds, 2),
        "embedded": report.embedded,
        "chunks_per_s": round(report.embedded / max(report.embed_seconds, 1e-9), 2),
        "reused_vectors": report.manifest.chunks - report.embedded,
    }


def server_command(port: int) -> list[str]:
    """`rag serve` from this environment (the console script when installed)."""
    script = Path(sys.executable).with_name("rag")
    if script.exists():
        return [str(script), "serve", "--host", "127.0.0.1", "--port", str(port)]
    code = "from rag.cli import app; app()"
    return [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port)]


def server_env(settings: Settings) -> dict[str, str]:
    """The settings as RAG_* variables, so the server runs with exactly these."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        env[f"RAG_{name.upper()}"] = str(value.resolve() if isinstance(value, Path) else value)
    return env


@dataclass
class Server:
    url: str
    pid: int
    ready_seconds: float
    headers: dict[str, str]


@contextmanager
def running_server(settings: Settings, log_path: Path, timeout: float = 180.0) -> Iterator[Server]:
    """Start `rag serve` over `settings.index_dir`, wait for /readyz 200, stop it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            server_command(port), env=server_env(settings), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            ready = wait_ready(url, process, timeout)
            if ready is None:
                tail = log_path.read_text("utf-8", "replace")[-2000:]
                raise RuntimeError(f"`rag serve` was not ready within {timeout:.0f}s:\n{tail}")
            yield Server(url, process.pid, round(ready - started, 2), headers)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(url: str, process: subprocess.Popen, timeout: float) -> float | None:
    """perf_counter() when /readyz first answered 200, None on timeout or server exit."""
    deadline = time.perf_counter() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.perf_counter() < deadline and process.poll() is None:
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    return time.perf_counter()
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    return None


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


# -- scale ---------------------------------------------------------------------------------
@dataclass
class ScaleInputs:
    """What every synthetic size is made from, computed once from the seed index."""

    seed_vectors: np.ndarray  # (chunks, dim), normalized
    noise_basis: np.ndarray  # (chunks, dim): centered seed vectors / sqrt(chunks - 1)
    chunk_ids: list[list[int]]  # BM25 token ids of each seed passage
    sentence_ids: list[list[int]]  # BM25 token ids of every seed sentence
    vocab: dict[str, int]
    tokenizer: Tokenizer
    tokenize_chars_per_s: float
    mean_passage_chars: float
    questions: list[str]
    question_vectors: np.ndarray  # (questions, dim)
    queries: np.ndarray  # (query_count, dim): the question vectors and noisy variants


def prepare_scale_inputs(
    services: Services, questions: list[str], query_count: int = 200, seed: int = 0
) -> ScaleInputs:
    """Seed vectors from FAISS (`reconstruct_n`), seed token ids, and query vectors."""
    rng = np.random.default_rng(seed)
    dense = services.bundle.dense
    vectors = dense.index.reconstruct_n(0, len(dense)).astype(np.float32)
    basis = (vectors - vectors.mean(axis=0)) / np.sqrt(max(len(vectors) - 1, 1))
    tokenizer = services.bundle.lexical.tokenizer
    vocab: dict[str, int] = {}

    def ids(text: str) -> list[int]:
        return [vocab.setdefault(t, len(vocab)) for t in tokenizer.tokenize(text)]

    passages = [passage_text(c) for c in services.bundle.store.chunks]
    started = time.perf_counter()
    chunk_ids = [ids(p) for p in passages]
    rate = sum(map(len, passages)) / max(time.perf_counter() - started, 1e-9)
    sentences = [ids(p[s:e]) for p in passages for s, e in sentence_spans(p, 0, len(p))]
    asked = services.embedder.embed_queries(questions).astype(np.float32)
    extra = max(query_count - len(asked), 0)
    variants = noisy(asked[rng.integers(0, len(asked), extra)], basis, NOISE_SCALE, rng)
    return ScaleInputs(
        seed_vectors=vectors,
        noise_basis=basis,
        chunk_ids=chunk_ids,
        sentence_ids=[s for s in sentences if s],
        vocab=vocab,
        tokenizer=tokenizer,
        tokenize_chars_per_s=rate,
        mean_passage_chars=sum(map(len, passages)) / len(passages),
        questions=questions,
        question_vectors=asked,
        queries=np.vstack([asked, variants])[:query_count],
    )


def noisy(
    vectors: np.ndarray, basis: np.ndarray, scale: float, rng: np.random.Generator
) -> np.ndarray:
    """vectors + Gaussian noise with covariance scale^2 * cov(seed vectors), renormalized."""
    out = vectors + scale * (rng.standard_normal((len(vectors), len(basis))) @ basis)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def synthetic_vectors(
    inputs: ScaleInputs, sources: np.ndarray, rng: np.random.Generator, block: int = 100_000
) -> np.ndarray:
    """One noisy copy of seed vector `sources[i]` per row (built in blocks to bound memory)."""
    out = np.empty((len(sources), inputs.seed_vectors.shape[1]), dtype=np.float32)
    for start in range(0, len(sources), block):
        rows = sources[start : start + block]
        out[start : start + len(rows)] = noisy(
            inputs.seed_vectors[rows], inputs.noise_basis, NOISE_SCALE, rng
        )
    return out


def synthetic_token_ids(
    inputs: ScaleInputs, sources: np.ndarray, rng: np.random.Generator
) -> list[list[int]]:
    """Row i: the tokens of seed passage `sources[i]` plus one sentence of a random passage.

    Built from token ids tokenized once: jieba over 10^6 passages would take most of an hour
    (the rate is reported), and BM25 ignores word order so shuffling sentences adds nothing.
    """
    extra = rng.integers(0, len(inputs.sentence_ids), len(sources)).tolist()
    chunks, sentences = inputs.chunk_ids, inputs.sentence_ids
    return [chunks[s] + sentences[e] for s, e in zip(sources.tolist(), extra, strict=True)]


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
    inputs: ScaleInputs,
    settings: Settings,
    plan: Plan,
    folder: Path,
    dense_threshold: int,
) -> tuple[dict[str, Any], DenseIndex]:
    """Build the index `DenseIndex.build` picks for this size; latency and recall vs exact.

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
        _, exact = exact_index.search(inputs.queries, RECALL_AT)
    measured = search_sweep(dense.index, inputs.queries, exact)
    flat = search_sweep(exact_index, inputs.queries[:20], exact[:20])
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
            dense.index, name, "nprobe", plan.nprobe_sweep, inputs.queries, exact, result["build_s"]
        )
        dense.configure(params)
    if dense.kind == "hnsw" or n <= plan.hnsw_compare_max_n:
        index, seconds = build_hnsw(vectors, HNSW_M, build_threads)
        sweep += param_sweep(
            index, f"HNSW M={HNSW_M}", "efSearch", plan.ef_sweep, inputs.queries, exact, seconds
        )
        del index
    result["sweep"] = sweep
    return result, dense


def numpy_bm25(token_ids: list[list[int]], vocab: dict[str, int]) -> bm25s.BM25:
    """The index `bm25s.BM25().index((token_ids, vocab))` builds, computed with numpy.

    bm25s scores document by document in Python (minutes at 10^6 chunks on this machine);
    this gives the same CSC matrix (Lucene BM25, k1=1.5, b=0.75) in seconds, so search can
    be measured at 10^6 within the time budget. tests/test_benchmark.py checks they agree.
    """
    bm25 = bm25s.BM25()
    n, n_vocab = len(token_ids), len(vocab)
    lengths = np.fromiter(map(len, token_ids), dtype=np.int64, count=n)
    flat = np.fromiter(chain.from_iterable(token_ids), dtype=np.int64, count=int(lengths.sum()))
    pairs = np.repeat(np.arange(n, dtype=np.int64), lengths) * n_vocab + flat
    del flat
    pairs, tf = np.unique(pairs, return_counts=True)  # sorted by document, then token
    docs, tokens = pairs // n_vocab, pairs % n_vocab
    del pairs
    df = np.bincount(tokens, minlength=n_vocab)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
    norm = bm25.k1 * ((1 - bm25.b) + bm25.b * lengths[docs] / lengths.mean())
    scores = idf[tokens] * (tf / (norm + tf))
    order = np.argsort(tokens, kind="stable")  # CSC: by token, then by document
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    bm25.scores = {
        "data": scores[order].astype(bm25.dtype),
        "indices": docs[order].astype(bm25.int_dtype),
        "indptr": indptr,
        "num_docs": n,
    }
    bm25.vocab_dict = dict(vocab)
    bm25.vocab_dict.setdefault("", n_vocab)  # as bm25s does: the empty token after the rest
    bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
    bm25.nonoccurrence_array = None
    return bm25


def measure_bm25_scale(
    token_ids: list[list[int]],
    inputs: ScaleInputs,
    candidates: int,
    folder: Path,
    bm25s_max_n: int,
) -> tuple[dict[str, Any], LexicalIndex]:
    """BM25 over the synthetic token ids; LexicalIndex.search latency on the questions.

    Up to `bm25s_max_n` chunks the index is built by bm25s itself (what `rag ingest` runs);
    above, by `numpy_bm25`, with the bm25s time extrapolated from BM25S_SAMPLE chunks.
    `search` scores every document (`get_scores_from_ids`) before taking the top-n, so its
    cost grows with the corpus; `scores_*` isolates that part.
    """
    n = len(token_ids)
    before = rss_mb()
    if n <= bm25s_max_n:
        bm25 = bm25s.BM25()
        build_ms, _ = timed_ms(bm25.index, (token_ids, dict(inputs.vocab)), show_progress=False)
        bm25s_ms = build_ms
    else:
        build_ms, bm25 = timed_ms(numpy_bm25, token_ids, inputs.vocab)
        sample = bm25s.BM25()
        part = token_ids[: min(bm25s_max_n, BM25S_SAMPLE)]
        bm25s_ms = timed_ms(sample.index, (part, dict(inputs.vocab)), show_progress=False)[0]
        bm25s_ms *= n / len(part)
        del sample
    memory = rss_mb() - before
    lexical = LexicalIndex(bm25, inputs.tokenizer)
    bm25.save(str(folder / LexicalIndex.FOLDER), show_progress=False)
    search = latency_stats(each_ms(lexical.search, inputs.questions * 2, candidates))
    unfiltered = latency_stats(
        each_ms(lexical.search, inputs.questions * 2, candidates, prefilter=False)
    )
    query_ids = [bm25.get_tokens_ids(inputs.tokenizer.tokenize(q)) for q in inputs.questions]
    scores = latency_stats(each_ms(bm25.get_scores_from_ids, [i for i in query_ids if i]))
    chars = n * inputs.mean_passage_chars
    return {
        "builder": "bm25s" if n <= bm25s_max_n else "numpy (same matrix)",
        "build_s": round(build_ms / 1000, 2),
        "bm25s_build_s": round(bm25s_ms / 1000, 1),
        "bm25s_build_measured": n <= bm25s_max_n,
        "tokenize_s_estimated": round(chars / inputs.tokenize_chars_per_s, 1),
        "postings": int(len(bm25.scores["data"])),
        "disk_mb": folder_mb(folder / LexicalIndex.FOLDER),
        "rss_delta_mb": round(memory, 1),
        "search_p50_ms": search["p50"],
        "search_p95_ms": search["p95"],
        "no_prefilter_p50_ms": unfiltered["p50"],
        "scores_p50_ms": scores["p50"],
        "scores_p95_ms": scores["p95"],
    }, lexical


class PrecomputedQueries:
    """An embedder stand-in that returns the questions' vectors: hybrid timing without the model."""

    def __init__(self, questions: list[str], vectors: np.ndarray) -> None:
        self._vectors = dict(zip(questions, vectors, strict=True))
        self.dim = vectors.shape[1]
        self.name = "precomputed"

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._vectors[t] for t in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - unused
        raise NotImplementedError


def measure_hybrid_scale(
    services: Services, dense: DenseIndex, lexical: LexicalIndex, inputs: ScaleInputs
) -> dict[str, Any]:
    """Retriever.ranked (dense + BM25 + RRF) over the synthetic index, query vectors given."""
    settings = services.settings
    bundle = replace(services.bundle, dense=dense, lexical=lexical)
    retriever = Retriever(
        bundle,
        PrecomputedQueries(inputs.questions, inputs.question_vectors),
        candidates=settings.fusion_candidates,
        rrf_k=settings.rrf_k,
        cache_size=0,
    )
    stats = latency_stats(each_ms(retriever.ranked, inputs.questions * 2, "hybrid", settings.top_k))
    return {"p50_ms": stats["p50"], "p95_ms": stats["p95"]}


def measure_scale(
    services: Services,
    inputs: ScaleInputs,
    n: int,
    plan: Plan = FULL,
    *,
    dense_threshold: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Dense, BM25 and hybrid at `n` synthetic chunks (rows i of both come from one seed chunk)."""
    settings = services.settings
    threshold = settings.dense_threshold if dense_threshold is None else dense_threshold
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    sources = rng.integers(0, len(inputs.seed_vectors), n)
    vectors = synthetic_vectors(inputs, sources, rng)
    token_ids = synthetic_token_ids(inputs, sources, rng)
    generate_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="rag-bench-scale-") as tmp:
        dense_result, dense = measure_dense_scale(
            vectors, inputs, settings, plan, Path(tmp), threshold
        )
        bm25_result, lexical = measure_bm25_scale(
            token_ids, inputs, settings.fusion_candidates, Path(tmp), plan.bm25s_max_n
        )
    del token_ids
    gc.collect()
    hybrid = measure_hybrid_scale(services, dense, lexical, inputs)
    return {
        "chunks": n,
        "generate_s": round(generate_s, 2),
        "dense": dense_result,
        "bm25": bm25_result,
        "hybrid": hybrid,
        "seconds": round(time.perf_counter() - started, 1),
    }


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
