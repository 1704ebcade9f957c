"""Evaluation over `evals/questions.jsonl`: the question set, retrieval metrics, answer
metrics (`rag eval`)."""

from rag.evaluation.answers import AnswerRecord, evaluate_answers, summarize_answers
from rag.evaluation.questions import (
    SPLITS,
    Question,
    evidence_documents,
    evidence_position,
    load_questions,
    select_split,
    squash,
)
from rag.evaluation.retrieval import (
    RetrievalRecord,
    evaluate_retrieval,
    percentile,
    summarize_retrieval,
    write_results,
)

__all__ = [
    "SPLITS",
    "AnswerRecord",
    "Question",
    "RetrievalRecord",
    "evaluate_answers",
    "evaluate_retrieval",
    "evidence_documents",
    "evidence_position",
    "load_questions",
    "percentile",
    "select_split",
    "squash",
    "summarize_answers",
    "summarize_retrieval",
    "write_results",
]
