"""Fit the off-topic gate for generative clients on the dev split: rag/answering/gate.json.

    python evals/fit_gate.py [--index index] [--max-false-refusals 0.01]

A model is asked unless retrieval is clearly off-topic: the threshold, on the abstention
model's confidence, is the highest one that refuses at most `--max-false-refusals` of the
answerable dev questions (the model itself declines, and its sentences are checked, for
the rest), and never above the abstention model's own threshold. Refit after refitting
the abstention model (`evals/fit_abstention.py`), whose confidence it reads. The test
split is never read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.evaluation import load_questions, select_split  # noqa: E402
from rag.services import Services  # noqa: E402

GATE_PATH = ROOT / "rag" / "answering" / "gate.json"


def confidence(answerer, question: str, k: int) -> float:  # noqa: ANN001
    """The abstention model's confidence, as the answerer computes it before generating."""
    hits = answerer.retrieve(question, k, None)
    verdict, _ = answerer.judge(question, hits)
    return verdict.confidence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--questions", type=Path, default=ROOT / "evals" / "questions.jsonl")
    parser.add_argument("--max-false-refusals", type=float, default=0.01)
    parser.add_argument("--out", type=Path, default=GATE_PATH)
    args = parser.parse_args()
    settings = Settings() if args.index is None else Settings(index_dir=args.index)
    answerer = Services.start(settings).answerer
    questions = select_split(load_questions(args.questions), "dev")
    p = np.array([confidence(answerer, q.question, settings.top_k) for q in questions])
    y = np.array([q.answerable for q in questions], dtype=bool)
    answerable = np.sort(p[y])
    allowed = int(np.floor(args.max_false_refusals * len(answerable)))
    threshold = round(float(answerable[allowed]) - 1e-6, 6) if len(answerable) else 0.0
    # Never stricter than the extractive answerer: a model is asked whenever it would be.
    threshold = min(threshold, answerer.policy.model.threshold)
    refused = p < threshold
    fit = {
        "threshold": threshold,
        "signal": "abstention model confidence",
        "dev_questions": int(len(questions)),
        "dev_false_refusals": round(float(refused[y].mean()), 4),
        "dev_unanswerable_refused": round(float(refused[~y].mean()), 4),
    }
    args.out.write_text(json.dumps(fit, indent=2) + "\n", "utf-8")
    print(json.dumps(fit, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
