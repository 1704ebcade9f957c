"""Retrieval metrics per question type over the question set (`evals/questions.jsonl`).

Besides hit@k and MRR, it measures retrieval size-fairly: how many characters a reader
goes through, in rank order, before reaching the evidence. (hit@k alone rewards huge
chunks: one chunk per file "finds" everything.)
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from pydantic import BaseModel

from rag.evaluation.questions import (
    Question,
    by_type,
    evidence_documents,
    evidence_position,
    squash,
)
from rag.query import SearchMode
from rag.retrieval import Retriever
from rag.schemas import Hit

READ_BUDGET_CHARS = 500


class RetrievalRecord(BaseModel):
    id: str
    type: str
    question: str
    rank: int | None  # 1-based rank of the first hit holding evidence (None: not in top 10)
    chars_to_evidence: int | None
    articles_needed: int
    articles_found: int
    latency_ms: float
    hits: list[str]


def score_hits(
    question: Question, hits: list[Hit], needed: set[str]
) -> tuple[int | None, int | None, int]:
    rank = chars = None
    read = 0
    for i, hit in enumerate(hits, start=1):
        end = evidence_position(hit.text, question.evidence)
        if end is not None:
            rank, chars = i, read + end
            break
        read += len(squash(hit.text))
    found = len(needed & {hit.doc_id for hit in hits})
    return rank, chars, found


def percentile(values: list[float] | list[int], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def evaluate_retrieval(
    retriever: Retriever, questions: list[Question], mode: SearchMode, depth: int = 10
) -> list[RetrievalRecord]:
    documents = retriever.bundle.store.documents
    records = []
    for question in questions:
        if not question.answerable:
            continue
        started = time.perf_counter()
        hits = retriever.search(question.question, k=depth, mode=mode)
        latency = (time.perf_counter() - started) * 1000
        needed = evidence_documents(question, documents)
        rank, chars, found = score_hits(question, hits, needed)
        records.append(
            RetrievalRecord(
                id=question.id,
                type=question.type,
                question=question.question,
                rank=rank,
                chars_to_evidence=chars,
                articles_needed=len(needed),
                articles_found=found,
                latency_ms=round(latency, 2),
                hits=[hit.chunk_id for hit in hits],
            )
        )
    return records


def summarize_retrieval(records: list[RetrievalRecord], k: int) -> dict[str, dict[str, float]]:
    """Metrics per question type and overall ('all')."""
    summary = {}
    for name, group in by_type(records):
        n = len(group)
        multi = [r for r in group if r.articles_needed > 1]
        latencies = [r.latency_ms for r in group]
        summary[name] = {
            "n": n,
            "hit@1": sum(r.rank == 1 for r in group) / n,
            f"hit@{k}": sum(r.rank is not None and r.rank <= k for r in group) / n,
            "mrr@10": sum(1 / r.rank for r in group if r.rank) / n,
            f"within_{READ_BUDGET_CHARS}_chars": sum(
                r.chars_to_evidence is not None and r.chars_to_evidence <= READ_BUDGET_CHARS
                for r in group
            )
            / n,
            "median_chars_to_evidence": statistics.median(
                [r.chars_to_evidence if r.chars_to_evidence is not None else 10**6 for r in group]
            ),
            "multi_article_recall@10": (
                sum(r.articles_found / r.articles_needed for r in multi) / len(multi)
                if multi
                else float("nan")
            ),
            "latency_p50_ms": percentile(latencies, 50),
            "latency_p95_ms": percentile(latencies, 95),
        }
    return summary


def write_results(folder: Path, name: str, payload: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str), "utf-8")
    return path
