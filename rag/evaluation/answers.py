"""Answer metrics: key facts, citations that hold the evidence, refusals, latency, tokens.

Any client (`--llm`) is measured the same way, so the extractive and LLM paths compare
side by side.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from rag.errors import LLMError
from rag.evaluation.questions import Question, by_type, evidence_position, squash
from rag.evaluation.retrieval import percentile

if TYPE_CHECKING:
    from rag.answering.pipeline import Answerer


class AnswerRecord(BaseModel):
    id: str
    type: str
    question: str
    answer: str
    answerable_expected: bool
    answerable: bool
    confidence: float | None = None
    notes: list[str] = Field(default_factory=list)
    key_facts_found: int
    key_facts_total: int
    citations: int
    citations_valid: bool
    citations_with_evidence: int
    generate_ms: float
    total_ms: float
    error: str = ""  # the LLM call failed (counted as a refusal, listed as an error)
    prompt_tokens: int = 0  # as the model's server reports them (0: not reported)
    completion_tokens: int = 0


def _markers(text: str) -> set[int]:
    return {int(m) for m in re.findall(r"\[(\d{1,2})\]", text)}


def evaluate_answers(
    answerer: Answerer, questions: list[Question], llm: str | None = None
) -> list[AnswerRecord]:
    """Answer every question and check the answers against key facts and the documents."""
    store = answerer.retriever.bundle.store
    records = []
    for question in questions:
        try:
            result = answerer.answer(question.question, llm=llm)
        except LLMError as exc:
            # One failed call (a busy model server timing out) is recorded, not the end
            # of a run that may take an hour.
            records.append(_failed(question, str(exc)))
            continue
        text = squash(re.sub(r"\[\d{1,2}\]", "", result.answer))
        found = sum(squash(fact) in text for fact in question.key_facts)
        numbers = {c.n for c in result.citations}
        valid = _markers(result.answer) <= numbers and all(
            (doc := store.document(c.doc_id)) is not None and doc.text[c.start : c.end] == c.text
            for c in result.citations
        )
        records.append(
            AnswerRecord(
                id=question.id,
                type=question.type,
                question=question.question,
                answer=result.answer,
                answerable_expected=question.answerable,
                answerable=result.answerable,
                confidence=result.confidence,
                notes=result.notes,
                key_facts_found=found,
                key_facts_total=len(question.key_facts),
                citations=len(result.citations),
                citations_valid=valid,
                citations_with_evidence=sum(
                    evidence_position(c.text, question.evidence) is not None
                    for c in result.citations
                ),
                generate_ms=result.timings_ms.get("generate", 0.0),
                total_ms=result.timings_ms.get("total", 0.0),
                prompt_tokens=result.tokens.get("prompt", 0),
                completion_tokens=result.tokens.get("completion", 0),
            )
        )
    return records


def _failed(question: Question, error: str) -> AnswerRecord:
    return AnswerRecord(
        id=question.id,
        type=question.type,
        question=question.question,
        answer="",
        answerable_expected=question.answerable,
        answerable=False,
        error=error,
        key_facts_found=0,
        key_facts_total=len(question.key_facts),
        citations=0,
        citations_valid=True,
        citations_with_evidence=0,
        generate_ms=0.0,
        total_ms=0.0,
    )


def summarize_answers(records: list[AnswerRecord]) -> dict[str, dict[str, float]]:
    summary = {}
    for name, group in by_type(records):
        answerable = [r for r in group if r.answerable_expected]
        unanswerable = [r for r in group if not r.answerable_expected]
        cited = [r for r in answerable if r.citations]
        answered = [r for r in group if r.answerable]
        generated = [r for r in group if r.prompt_tokens]  # reached a model that counts
        summary[name] = {
            "n": len(group),
            "key_fact_coverage": _mean(
                [r.key_facts_found / r.key_facts_total for r in answerable if r.key_facts_total]
            ),
            "fully_correct": _mean(
                [float(r.key_facts_found == r.key_facts_total) for r in answerable]
            ),
            "citation_validity": _mean([float(r.citations_valid) for r in group]),
            "citation_support": _mean([r.citations_with_evidence / r.citations for r in cited]),
            "answered_cited": _mean([float(r.citations > 0) for r in answered]),
            "errors": sum(bool(r.error) for r in group),
            "refused_unanswerable": _mean([float(not r.answerable) for r in unanswerable]),
            "false_refusals": _mean([float(not r.answerable) for r in answerable]),
            "generate_p50_ms": percentile([r.generate_ms for r in group], 50),
            "total_p50_ms": percentile([r.total_ms for r in group], 50),
            "total_p95_ms": percentile([r.total_ms for r in group], 95),
            "prompt_tokens_p50": percentile([r.prompt_tokens for r in generated], 50),
            "completion_tokens_p50": percentile([r.completion_tokens for r in generated], 50),
        }
    return summary


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
