"""Choose the extractive answerer's sentence weights on the dev split (never on test).

    python evals/tune_extractive.py [--index index] [--questions evals/questions.jsonl]

For each answerable dev question the passages are retrieved once; then every weight
setting of a small grid is scored by the key facts the selected sentences carry (no
abstention: this is about picking sentences). Prints the best settings; copy the chosen
one into `Weights` in rag/answering/extractive.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answering.extractive import Weights  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.evaluation import load_questions, select_split, squash  # noqa: E402
from rag.services import Services  # noqa: E402

GRID = {
    "sentence_similarity": [0.0, 1.0, 2.0, 3.0, 4.0],
    "passage_similarity": [0.0, 0.5, 1.0],
    "coverage": [0.5, 1.0],
    "english_lexical": [0.0, 0.35],
    "rank": [0.0, 0.1],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--questions", type=Path, default=ROOT / "evals" / "questions.jsonl")
    parser.add_argument("--split", default="dev")
    args = parser.parse_args()
    settings = Settings() if args.index is None else Settings(index_dir=args.index)
    answerer = Services.start(settings).answerer
    questions = [
        q for q in select_split(load_questions(args.questions), args.split) if q.answerable
    ]
    passages = {q.id: answerer.retrieve(q.question, settings.top_k, None) for q in questions}
    extractive = answerer.extractive
    results = []
    for values in itertools.product(*GRID.values()):
        weights = dataclasses.replace(Weights(), **dict(zip(GRID, values, strict=True)))
        extractive.weights = weights
        covered = full = 0.0
        for q in questions:
            text = squash("".join(c.text for c in extractive.select(q.question, passages[q.id])))
            found = sum(squash(fact) in text for fact in q.key_facts) / len(q.key_facts)
            covered += found
            full += found == 1.0
        results.append((covered / len(questions), full / len(questions), weights))
    results.sort(key=lambda r: -r[0])
    print(f"{len(questions)} answerable {args.split} questions; default: ", end="")
    default = next(r for r in results if r[2] == Weights())
    print(f"key facts {default[0]:.3f}, fully {default[1]:.3f}")
    for covered, full, weights in results[:10]:
        print(f"key facts {covered:.3f}  fully {full:.3f}  {weights}")


if __name__ == "__main__":
    main()
