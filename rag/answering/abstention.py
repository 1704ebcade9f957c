"""Decide from measured evidence whether the corpus answers a question at all.

Small local models refuse answerable questions when told to refuse when unsure, so the
decision is made here, in code. A logistic model over a few measured features of the
retrieved evidence (how close the best sentences are to the question by meaning, how much
of the question's rare words they hold, whether they carry the kind of answer asked for,
how much of the question the corpus knows at all) gives a probability that the passages
answer the question; below a threshold the service says the reports do not say.

The model is a small JSON file beside this module (`abstention_model.json`), fit on the
dev split only and its threshold chosen there for at most 5% false refusals:
`python evals/fit_abstention.py` refits it. Figures on the test split are in the README.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from rag.answering.evidence import EvidenceScorer, QuestionProfile
from rag.answering.extractive import Candidate, SentenceFeatures
from rag.answering.slots import asked_clauses, fills, slots
from rag.errors import RagError
from rag.schemas import Hit

MODEL_FILE = "abstention_model.json"
EVIDENCE_SENTENCES = 8  # the best sentences the lexical features read

FEATURES: tuple[str, ...] = (
    "best_score",  # the extractive score of the best sentence
    "score_margin",  # best minus second best: one clear answer, or many weak ones
    "sentence_similarity",  # the closest sentence by meaning
    "passage_similarity",  # the first passage by meaning
    "coverage",  # the most of the question's IDF mass one evidence sentence holds
    "evidence_coverage",  # ... that the best sentences hold together
    "unknown_mass",  # share of the question's IDF mass in words the corpus never uses
    "slot_missing",  # share of the asks whose kind of answer (a new figure, sum, date,
    # person) none of the best sentences holds
    "passage_missing",  # share of the question's IDF mass in words no retrieved passage has
    "uncovered_peak",  # the heaviest question word the best sentences lack (share of mass)
    "ask_coverage",  # share of the IDF mass of the asks' own clauses the best sentences hold
    "names_missing",  # share of the places and bodies the question names that no passage does
    "names_unknown",  # ... that the corpus never uses: a question about a place not covered
    "english",  # English questions match Chinese text by meaning only
)


@dataclass(frozen=True)
class Verdict:
    answerable: bool
    reason: str
    confidence: float = 0.0  # the model's probability that the passages answer it


@dataclass(frozen=True)
class AbstentionModel:
    """Standardized logistic regression: p = sigmoid(intercept + coef . (x - mean) / scale)."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    features: tuple[str, ...] = FEATURES

    def probability(self, values: dict[str, float]) -> float:
        z = self.intercept
        for name, mean, scale, coef in zip(
            self.features, self.mean, self.scale, self.coef, strict=True
        ):
            z += coef * (values[name] - mean) / (scale or 1.0)
        return 1.0 / (1.0 + math.exp(-z))

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
        }

    @classmethod
    def load(cls, path: Traversable | None = None) -> AbstentionModel:
        path = path or files("rag.answering") / MODEL_FILE
        try:
            data = json.loads(path.read_text("utf-8"))
            model = cls(
                features=tuple(data["features"]),
                mean=tuple(data["mean"]),
                scale=tuple(data["scale"]),
                coef=tuple(data["coef"]),
                intercept=float(data["intercept"]),
                threshold=float(data["threshold"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RagError(f"abstention model {path} is unreadable ({exc}): refit it") from exc
        if set(model.features) - set(FEATURES):
            raise RagError(f"abstention model {path} uses unknown features: refit it")
        return model


def evidence_features(
    scorer: EvidenceScorer,
    profile: QuestionProfile,
    sentences: list[SentenceFeatures],
    ranked: list[Candidate],
    chosen: list[Candidate],
    passages: str,
) -> dict[str, float]:
    """The model's inputs for one question, its retrieved passages (`passages`: their
    titles, sections and texts joined), their sentences (`ranked`: best first) and the
    ones the extractive answer would quote (`chosen`)."""
    scores = [c.score for c in ranked] or [0.0]
    best = [c.text for c in ranked[:EVIDENCE_SENTENCES]]
    joined = "\n".join(best).lower()
    top = [c.text for c in chosen]
    kinded = [slot for slot in slots(profile.text) if slot.kind]
    unfilled = sum(
        not any(fills(slot, text, profile.text, scorer.people) for text in top) for slot in kinded
    )
    total = profile.total_weight or 1.0
    unknown = sum(w for t, w in profile.weights.items() if not scorer.known_name(t))
    lowered = passages.lower()
    absent = sum(w for t, w in profile.weights.items() if t not in lowered)
    top_text = "\n".join(top).lower()
    peak = max((w for t, w in profile.weights.items() if t not in top_text), default=0.0)
    tokenize = scorer.bundle.lexical.tokenizer.tokenize
    asked = {t for clause in asked_clauses(profile.text) for t in tokenize(clause)}
    asked_weights = {t: w for t, w in profile.weights.items() if t in asked}
    asked_mass = sum(asked_weights.values())
    asked_held = sum(w for t, w in asked_weights.items() if t in top_text)
    names = scorer.places(profile.text)
    names_absent = sum(name not in passages for name in names) / len(names) if names else 0.0
    unknown_names = sum(not scorer.known_name(n) for n in names) / len(names) if names else 0.0
    return {
        "best_score": scores[0],
        "score_margin": scores[0] - (scores[1] if len(scores) > 1 else 0.0),
        "sentence_similarity": max((f.sentence_similarity for f in sentences), default=0.0),
        "passage_similarity": max((f.passage_similarity for f in sentences), default=0.0),
        "coverage": max((f.coverage for f in sentences), default=0.0),
        "evidence_coverage": scorer.coverage(profile, joined),
        "unknown_mass": unknown / total,
        "slot_missing": unfilled / len(kinded) if kinded else 0.0,
        "passage_missing": absent / total,
        "uncovered_peak": peak / total,
        "ask_coverage": asked_held / asked_mass if asked_mass else 1.0,
        "names_missing": names_absent,
        "names_unknown": unknown_names,
        "english": float(profile.language == "en"),
    }


class AbstentionPolicy:
    def __init__(self, scorer: EvidenceScorer, model: AbstentionModel | None = None) -> None:
        self.scorer = scorer
        self.model = model or AbstentionModel.load()

    def measure(
        self,
        question: str,
        hits: list[Hit],
        sentences: list[SentenceFeatures],
        ranked: list[Candidate],
        chosen: list[Candidate],
    ) -> dict[str, float]:
        """The model's inputs (also what evals/fit_abstention.py fits on)."""
        profile = self.scorer.profile(question)
        passages = "\n".join(f"{h.title} {h.section}\n{h.text}" for h in hits)
        return evidence_features(self.scorer, profile, sentences, ranked, chosen, passages)

    def judge(
        self,
        question: str,
        hits: list[Hit],
        sentences: list[SentenceFeatures],
        ranked: list[Candidate],
        chosen: list[Candidate],
    ) -> Verdict:
        if not sentences:
            return Verdict(False, "no passage matches the question")
        values = self.measure(question, hits, sentences, ranked, chosen)
        confidence = round(self.model.probability(values), 4)
        answerable = confidence >= self.model.threshold
        reason = (
            f"evidence score {confidence:.2f} "
            f"{'>=' if answerable else '<'} threshold {self.model.threshold:.2f} "
            f"(closest sentence {values['sentence_similarity']:.2f}, "
            f"coverage {values['coverage']:.0%})"
        )
        return Verdict(answerable, reason, confidence)
