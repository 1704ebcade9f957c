"""FAISS vs Milvus (Milvus Lite) as the vector store: retrieval metrics, search latency,
and whether Milvus' own BM25 (jieba analyzer) can replace the project's jieba BM25.

    .venv/bin/python evals/bench_stores.py [--index index] [--size 100000] [--quick]

Works on copies in a temporary folder (the given index is only read; it is built first if
missing). Prints a report and writes evals/results/bench-stores-<timestamp>.json. Nothing
is asserted: the figures are for the README and the issue.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evals.bench_scale import (  # noqa: E402 - after the path set-up
    prepare_scale_inputs,
    synthetic_vectors,
)
from evals.harness import latency_stats  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.documents import rebuild  # noqa: E402
from rag.evaluation import evaluate_retrieval, load_questions, summarize_retrieval  # noqa: E402
from rag.index import IndexConfig, load_index  # noqa: E402
from rag.index.dense import DenseIndex, DenseParams  # noqa: E402
from rag.index.lexical import STOPWORDS  # noqa: E402
from rag.index.stores.base import VectorStore  # noqa: E402
from rag.index.stores.faiss_store import FaissStore  # noqa: E402
from rag.index.stores.milvus_store import MilvusStore  # noqa: E402
from rag.index.vectors import passage_text  # noqa: E402
from rag.query import Filters  # noqa: E402
from rag.retrieval import Retriever  # noqa: E402
from rag.schemas import Chunk  # noqa: E402
from rag.services import Services  # noqa: E402

QUESTIONS = ROOT / "evals" / "questions.jsonl"
K = 10
METRICS = ("hit@1", "hit@5", "mrr@10", "within_500_chars", "multi_article_recall@10")


def search_latency(store: VectorStore, queries: np.ndarray, filters: Filters | None = None):
    store.search(queries[0], K, filters)  # warm-up
    times = []
    for query in queries:
        started = time.perf_counter()
        store.search(query, K, filters)
        times.append((time.perf_counter() - started) * 1000)
    return latency_stats(times)


def retrieval_metrics(retriever: Retriever, questions, mode: str) -> dict[str, float]:
    records = evaluate_retrieval(retriever, questions, mode)  # type: ignore[arg-type]
    overall = summarize_retrieval(records, 5)["all"]
    return {m: round(float(overall[m]), 3) for m in METRICS}


class MilvusBM25:
    """Milvus full-text search (BM25 function over an analyzed text field) in the shape of
    `LexicalIndex.search`, so the retriever and `rag eval` can use it unchanged."""

    def __init__(self, store: MilvusStore, chunks: list[Chunk]) -> None:
        self.store = store
        self.rows = {c.chunk_id: i for i, c in enumerate(chunks)}

    @classmethod
    def build(cls, client_uri: str, collection: str, chunks: list[Chunk], analyzer: dict):
        from pymilvus import DataType, Function, FunctionType

        store = MilvusStore.connect(client_uri, collection)
        store.drop()
        client = store.client
        schema = client.create_schema(auto_id=False)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=512, is_primary=True)
        schema.add_field(
            "text",
            DataType.VARCHAR,
            max_length=65_535,
            enable_analyzer=True,
            analyzer_params=analyzer,
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        client.create_collection(collection, schema=schema, index_params=index)
        rows = [{"chunk_id": c.chunk_id, "text": passage_text(c)} for c in chunks]
        started = time.perf_counter()
        client.insert(collection, rows)
        seconds = time.perf_counter() - started
        return cls(store, chunks), seconds

    def search(self, query: str, n: int, allowed=None):  # noqa: ANN001 - LexicalIndex's shape
        results = self.store.client.search(
            self.store.collection,
            data=[query],
            anns_field="sparse",
            limit=n,
            output_fields=["chunk_id"],
            search_params={"metric_type": "BM25"},
        )[0]
        pairs = [(self.rows[h["entity"]["chunk_id"]], abs(float(h["distance"]))) for h in results]
        if allowed is not None:
            keep = set(np.asarray(allowed).tolist())
            pairs = [p for p in pairs if p[0] in keep]
        rows = np.asarray([r for r, _ in pairs], dtype=np.int64)
        return np.asarray([s for _, s in pairs], dtype=np.float32), rows


def synthetic_rows(n: int, sources: np.ndarray, seed_chunks: list[Chunk], documents):
    """n chunks copied from seed chunks (new ids; 20 per synthetic document)."""
    by_id = {d.doc_id: d for d in documents}
    chunks, docs = [], {}
    for i, s in enumerate(sources.tolist()):
        seed = seed_chunks[s]
        doc_id = f"syn{i // 20}"
        chunks.append(seed.model_copy(update={"chunk_id": f"{doc_id}#{i % 20}", "doc_id": doc_id}))
        if doc_id not in docs:
            docs[doc_id] = by_id[seed.doc_id].model_copy(update={"doc_id": doc_id})
    return chunks, list(docs.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--source", type=Path, default=Path("seeds"))
    parser.add_argument("--size", type=int, default=100_000, help="synthetic chunks (0: skip)")
    parser.add_argument("--quick", action="store_true", help="10^4 synthetic chunks")
    args = parser.parse_args()
    size = 10_000 if args.quick else args.size
    result: dict[str, Any] = {"machine_note": "2 shared cores; one thread (settings.threads)"}

    work = Path(tempfile.mkdtemp(prefix="bench-stores-"))
    try:
        base = Settings(source_dir=args.source, index_dir=args.index)
        faiss_services = Services.start(base)  # builds the index if it is missing
        shutil.copytree(args.index, work / "index", ignore=shutil.ignore_patterns("milvus.db"))
        lite = str(work / "milvus.db")
        milvus_settings = base.model_copy(
            update={"index_dir": work / "index", "store": "milvus", "milvus_uri": lite}
        )
        started = time.perf_counter()
        rebuild(milvus_settings, faiss_services.embedder)
        result["milvus_seed_build_s"] = round(time.perf_counter() - started, 2)
        milvus_bundle = load_index(
            milvus_settings.index_dir, IndexConfig.from_settings(milvus_settings).stores
        )
        milvus_services = Services.from_parts(
            milvus_settings, faiss_services.embedder, milvus_bundle
        )

        # 1. rag eval's retrieval metrics with each store.
        questions = load_questions(QUESTIONS)
        result["eval"] = {
            store: {
                mode: retrieval_metrics(services.retriever, questions, mode)
                for mode in ("dense", "hybrid")
            }
            for store, services in (("faiss", faiss_services), ("milvus", milvus_services))
        }
        print("eval:", json.dumps(result["eval"], indent=1))

        # 2. Search latency on the seed corpus (store.search only: the query is embedded once).
        texts = [q.question for q in questions]
        queries = faiss_services.embedder.embed_queries(texts).astype(np.float32)
        place = Filters(place=["桂阳"])
        result["seed_latency_ms"] = {
            "chunks": faiss_services.bundle.manifest.chunks,
            "faiss": search_latency(faiss_services.bundle.vectors, queries),
            "faiss_filtered": search_latency(faiss_services.bundle.vectors, queries, place),
            "milvus_lite": search_latency(milvus_bundle.vectors, queries),
            "milvus_lite_filtered": search_latency(milvus_bundle.vectors, queries, place),
        }
        print("seed latency:", json.dumps(result["seed_latency_ms"], indent=1))

        # 3. Milvus BM25 (jieba analyzer) against the project's jieba BM25.
        chunks = faiss_services.bundle.store.chunks
        lexical: dict[str, Any] = {
            "jieba_bm25s": {
                mode: retrieval_metrics(faiss_services.retriever, questions, mode)
                for mode in ("bm25", "hybrid")
            }
        }
        analyzers = {
            "milvus_jieba": {"tokenizer": "jieba"},
            "milvus_jieba_stopwords": {
                "tokenizer": "jieba",
                "filter": [{"type": "stop", "stop_words": sorted(STOPWORDS)}],
            },
        }
        for name, analyzer in analyzers.items():
            bm25, seconds = MilvusBM25.build(lite, f"bm25_{name}", chunks, analyzer)
            bundle = dataclasses.replace(faiss_services.bundle, lexical=bm25)
            retriever = Retriever(bundle, faiss_services.embedder)
            lexical[name] = {
                mode: retrieval_metrics(retriever, questions, mode) for mode in ("bm25", "hybrid")
            }
            lexical[name]["insert_s"] = round(seconds, 2)
            lexical[name]["top10_overlap_with_jieba_bm25s"] = top_overlap(
                faiss_services.bundle.lexical, bm25, [q.question for q in questions]
            )
            lexical[name]["search_ms"] = latency_stats(
                [1000 * _timed(bm25.search, q.question, 50) for q in questions if q.answerable]
            )
        result["lexical"] = lexical
        print("lexical:", json.dumps(lexical, indent=1))

        if not size:
            raise SystemExit(_write(result))
        # 4. Search latency at scale: synthetic chunks made from the seed (evals/bench_scale.py).
        inputs = prepare_scale_inputs(faiss_services, texts, query_count=200)
        rng = np.random.default_rng(0)
        sources = rng.integers(0, len(inputs.seed_vectors), size)
        vectors = synthetic_vectors(inputs, sources, rng)
        syn_chunks, syn_docs = synthetic_rows(
            size, sources, chunks, faiss_services.bundle.store.documents
        )
        exact = vectors @ inputs.queries.T
        truth = np.argsort(-exact, axis=0)[:K].T
        row_of = {c.chunk_id: i for i, c in enumerate(syn_chunks)}
        scale: dict[str, Any] = {"chunks": size, "queries": len(inputs.queries)}
        started = time.perf_counter()
        dense = DenseIndex.build(vectors, DenseParams.from_settings(base))
        scale["faiss_build_s"] = round(time.perf_counter() - started, 2)
        scale["faiss_index"] = dense.kind
        faiss_store = FaissStore(dense, syn_chunks, syn_docs)
        milvus_store = MilvusStore.connect(lite, "synthetic")
        milvus_store.drop()
        started = time.perf_counter()
        milvus_store.embedder = "synthetic"
        milvus_store.add(syn_chunks, syn_docs, vectors)
        milvus_store.load()
        scale["milvus_insert_and_flush_s"] = round(time.perf_counter() - started, 2)
        time.sleep(10)  # let a background index build finish before timing searches
        for query in inputs.queries[:5]:
            milvus_store.search(query, K)
        for name, store in (("faiss", faiss_store), ("milvus_lite", milvus_store)):
            scale[name] = search_latency(store, inputs.queries)
            found = [[row_of[c] for c, _ in store.search(q, K)] for q in inputs.queries]
            overlap = [len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]
            scale[f"{name}_recall@10"] = round(float(np.mean(overlap)), 3)
            scale[f"{name}_filtered"] = search_latency(store, inputs.queries[:50], place)
        milvus_store.drop()
        result["scale"] = scale
        print("scale:", json.dumps(scale, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    _write(result)


def _write(result: dict[str, Any]) -> int:
    out = ROOT / "evals" / "results" / f"bench-stores-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), "utf-8")
    print(f"written {out}")
    return 0


def top_overlap(jieba_bm25, milvus_bm25: MilvusBM25, questions: list[str]) -> dict[str, float]:
    """How alike the two BM25 rankings are, question by question (top 10)."""
    shares, same_first = [], 0
    for question in questions:
        _, ours = jieba_bm25.search(question, K)
        _, theirs = milvus_bm25.search(question, K)
        shares.append(len(set(ours.tolist()) & set(theirs.tolist())) / K)
        same_first += bool(len(ours) and len(theirs) and ours[0] == theirs[0])
    return {
        "mean_share": round(float(np.mean(shares)), 3),
        "identical_top10_sets": sum(share == 1.0 for share in shares),
        "same_first_hit": same_first,
        "questions": len(questions),
    }


def _timed(fn, *args) -> float:  # noqa: ANN001
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
