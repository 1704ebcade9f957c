"""Choose the extractive answerer's sentence weights on the dev split (never on test).

    python evals/tune_extractive.py [--index index] [--questions evals/questions.jsonl]

For each answerable dev question the passages are retrieved once; then every setting of
a small grid (sentence weights, and the margins within which more sentences are quoted)
is scored by the key facts the selected sentences carry and by the share of the passages
they cite that hold the evidence (no abstention: this is about picking sentences). Prints
the best settings; copy the chosen one into `Weights` and `ExtractiveClient`'s defaults in
rag/answering/extractive.py.
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
from rag.evaluation import evidence_position, load_questions, select_split, squash  # noqa: E402
from rag.services import Services  # noqa: E402

GRID = {
    "sentence_similarity": [2.0, 3.0, 4.0],
    "rank": [0.05, 0.1],
}
# ExtractiveClient settings: same-passage and other-passage margins.
MARGINS = {"margin": [0.6], "other_margin": [0.1, 0.2, 0.3]}


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
    for values in itertools.product(*GRID.values(), *MARGINS.values()):
        setting = dict(zip([*GRID, *MARGINS], values, strict=True))
        weights = dataclasses.replace(Weights(), **{k: setting[k] for k in GRID})
        extractive.weights = weights
        extractive.margin, extractive.other_margin = setting["margin"], setting["other_margin"]
        covered = full = support = 0.0
        for q in questions:
            hits = passages[q.id]
            chosen = extractive.select(q.question, hits)
            text = squash("".join(c.text for c in chosen))
            found = sum(squash(fact) in text for fact in q.key_facts) / len(q.key_facts)
            cited = {c.n for c in chosen}
            holding = sum(
                evidence_position(hits[n - 1].text, q.evidence) is not None for n in cited
            )
            covered += found
            full += found == 1.0
            support += holding / len(cited) if cited else 0.0
        n = len(questions)
        results.append((covered / n, full / n, support / n, setting))
    # Key facts and citation support weigh alike: quoting more passages buys facts with
    # passages a reader checks for nothing.
    results.sort(key=lambda r: -(r[0] + r[2]))
    print(f"{len(questions)} answerable {args.split} questions")
    for covered, full, support, setting in results[:10]:
        print(
            f"key facts {covered:.3f}  fully {full:.3f}  citation support {support:.3f}  {setting}"
        )


if __name__ == "__main__":
    main()
