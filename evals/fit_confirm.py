"""Choose RAG_LLM_CONFIRM for a model on the dev split, from a live run's answers.

    RAG_LLM_CONFIRM=0 rag eval --split dev --llm openai --json > dev.json
    python evals/fit_confirm.py dev.json [--max-false-refusals 0.05]

Puts the check of confirmation.py (do the cited passages answer the question?) to the
model for every question the run answered, with the same server (RAG_LLM_* settings), and
prints dev unanswerable refused, answerable refused and key facts for a range of
thresholds. The one chosen is the highest, in hundredths, that keeps the answerable dev
questions refused (before the check and by it) at or under --max-false-refusals. The
default in rag/config.py is set from it by hand. The test split is never read.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.answering.citations import parse_citations  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.services import Services  # noqa: E402

# Answers the check is not asked for: quoted without the model, or after it failed.
NOT_CHECKED = ("a question of several parts", "answered by the extractive fallback")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="`rag eval --split dev --json` output")
    parser.add_argument("--max-false-refusals", type=float, default=0.05)
    args = parser.parse_args()
    report = json.loads(args.report.read_text("utf-8"))
    if report.get("split") != "dev" or "answer_records" not in report:
        sys.exit("fit_confirm: give a `rag eval --split dev --llm openai --json` report")
    settings = Settings()
    answerer = Services.start(settings).answerer
    model = answerer.client("openai")
    rows = []  # (P(yes), answerable expected, key-fact share) per checked answer
    for record in report["answer_records"]:
        if not record["answerable"] or any(n.startswith(NOT_CHECKED) for n in record["notes"]):
            continue
        hits = answerer.retrieve(record["question"], report["k"], None)
        cited = parse_citations(record["answer"], len(hits)).cited
        passages = [(n, hits[n - 1]) for n in cited]
        chance = model.yes_probability(
            answerer.prompts.check_messages(record["question"], passages)
        )
        share = record["key_facts_found"] / max(1, record["key_facts_total"])
        rows.append((1.0 if chance is None else chance, record["answerable_expected"], share))
        print(f"{record['id']}\tP(yes) {chance}", file=sys.stderr, flush=True)
    records = report["answer_records"]
    answerable = [r for r in records if r["answerable_expected"]]
    unanswerable = len(records) - len(answerable)
    refused_before = sum(not r["answerable"] for r in answerable)
    refused_u_before = sum(not r["answerable"] for r in records if not r["answerable_expected"])
    facts = sum(r["key_facts_found"] / max(1, r["key_facts_total"]) for r in answerable)

    def figures(threshold: float) -> dict[str, float]:
        cut = [row for row in rows if row[0] < threshold]
        lost = sum(share for _, expected, share in cut if expected)
        return {
            "threshold": threshold,
            "unanswerable_refused": round(
                (refused_u_before + sum(not e for _, e, _ in cut)) / max(1, unanswerable), 3
            ),
            "answerable_refused": round(
                (refused_before + sum(e for _, e, _ in cut)) / max(1, len(answerable)), 3
            ),
            "key_facts": round((facts - lost) / max(1, len(answerable)), 3),
        }

    for threshold in (0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9):
        print(json.dumps(figures(threshold)))
    allowed = math.floor(args.max_false_refusals * len(answerable)) - refused_before
    kept = sorted(chance for chance, expected, _ in rows if expected)
    if allowed < 0 or not kept:
        chosen = 0.0
    else:
        chosen = math.floor(kept[min(allowed, len(kept) - 1)] * 100) / 100
    print("chosen:", json.dumps(figures(chosen)))


if __name__ == "__main__":
    main()
