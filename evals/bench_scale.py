"""Benchmark at 10^4..10^6 chunks without embedding new text: synthetic corpora made from
the seed chunks, BM25 over them (bm25s, or the same matrix built with numpy), and hybrid
retrieval over the synthetic dense and BM25 indexes together.
"""

from __future__ import annotations

import gc
import tempfile
import time
from dataclasses import dataclass, replace
from itertools import chain
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from evals.bench_dense import measure_dense_scale
from evals.bench_plan import FULL, Plan
from evals.harness import each_ms, folder_mb, latency_stats, rss_mb, timed_ms
from rag.chunking import sentence_spans
from rag.index.dense import DenseIndex
from rag.index.lexical import LexicalIndex, Tokenizer
from rag.index.vectors import passage_text
from rag.retrieval import Retriever
from rag.services import Services

# Synthetic vectors: a seed vector plus Gaussian noise with the seed vectors' own covariance
# times NOISE_SCALE**2 (cosine to the source ~0.98, about the gap between real neighbouring
# chunks). Isotropic noise instead gives 384 intrinsic dimensions, far from real text
# embeddings (~30 here), and makes every approximate index look much worse than it would be.
NOISE_SCALE = 0.5
BM25S_SAMPLE = 20_000


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
    """Seed vectors from the dense index, seed token ids, and query vectors."""
    rng = np.random.default_rng(seed)
    dense = services.bundle.dense
    vectors = dense.vectors().astype(np.float32)
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
        return np.vstack([self._vector(t) for t in texts])

    def _vector(self, text: str) -> np.ndarray:
        """An English question is embedded with corpus words appended (Retriever.embed_query):
        its vector is the question's."""
        if text in self._vectors:
            return self._vectors[text]
        return next(v for q, v in self._vectors.items() if text.startswith(q))

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
        # The synthetic rows have no stored sentences: fusion alone is timed (reordering the
        # first 20 passages by sentence adds some 20 small dot products).
        rerank=0,
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
            vectors, inputs.queries, settings, plan, Path(tmp), threshold
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
