"""The default answerer: quotes the passages' best sentences verbatim, each with [n].

It needs no model and can never state what the corpus does not say: every sentence it
outputs is an exact span of the passage it cites.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rag.answering.evidence import EvidenceScorer, QuestionProfile, is_comparative
from rag.chunking import sentence_spans
from rag.config import Settings
from rag.llm.base import GenerationRequest
from rag.schemas import Hit

_BIGRAM_SPLIT = re.compile(r"\s+")


@dataclass(frozen=True)
class Candidate:
    n: int  # passage number, 1-based
    doc_id: str
    start: int  # offset in the document: identical sentences of overlapping chunks collide
    text: str
    score: float


def _bigrams(text: str) -> set[str]:
    text = _BIGRAM_SPLIT.sub("", text)
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _near_duplicate(a: str, b: str, threshold: float = 0.6) -> bool:
    x, y = _bigrams(a), _bigrams(b)
    return bool(x and y) and len(x & y) / min(len(x), len(y)) >= threshold


def _same(a: Candidate, b: Candidate) -> bool:
    """The same sentence (overlapping chunks repeat sentences) or a near-copy of it."""
    return (a.doc_id, a.start) == (b.doc_id, b.start) or _near_duplicate(a.text, b.text)


class ExtractiveClient:
    """Scores each passage sentence: lexical coverage of the question (IDF-weighted),
    the passage's semantic similarity, its retrieval rank, and whether the sentence
    holds the kind of answer asked for (a number, a person)."""

    name = "extractive"

    def __init__(
        self,
        scorer: EvidenceScorer,
        *,
        max_sentences: int = 4,
        relative_cutoff: float = 0.75,
        min_sentence_chars: int = 6,
    ) -> None:
        self.scorer = scorer
        self.max_sentences = max_sentences
        self.relative_cutoff = relative_cutoff
        self.min_sentence_chars = min_sentence_chars

    def candidates(self, question: str, passages: list[Hit]) -> list[Candidate]:
        profile = self.scorer.profile(question)
        found: list[Candidate] = []
        for n, hit in enumerate(passages, start=1):
            similarity = self.scorer.similarity(question, hit)
            rank_prior = 0.1 / n
            for start, end in sentence_spans(hit.text, 0, len(hit.text)):
                text = hit.text[start:end]
                if len(text) < self.min_sentence_chars:
                    continue
                score = self._score(profile, text, hit, similarity) + rank_prior
                found.append(Candidate(n, hit.doc_id, hit.start + start, text, score))
        return sorted(found, key=lambda c: -c.score)

    def _score(self, profile: QuestionProfile, text: str, hit: Hit, similarity: float) -> float:
        context = self.scorer.coverage(profile, f"{hit.title} {hit.section}")
        own = self.scorer.coverage(profile, text)
        lexical = own + 0.25 * max(context - own, 0.0)
        weight = 0.35 if profile.language == "en" else 1.0
        return weight * lexical + similarity + self.scorer.answer_type_bonus(profile, text)

    def select(self, question: str, passages: list[Hit]) -> list[Candidate]:
        ranked = self.candidates(question, passages)
        if not ranked:
            return []
        chosen: list[Candidate] = [ranked[0]]
        if is_comparative(question):
            chosen = self._one_per_place(question, ranked) or chosen
        floor = ranked[0].score * self.relative_cutoff
        for candidate in ranked[1:]:
            if len(chosen) >= self.max_sentences or candidate.score < floor:
                break
            if not any(_same(c, candidate) for c in chosen):
                chosen.append(candidate)
        return chosen

    def _one_per_place(self, question: str, ranked: list[Candidate]) -> list[Candidate]:
        """For "X和Y分别…": the best sentence about each place named, in question order.

        Without two names, the best sentence of each of the two best articles.
        """
        places = self.scorer.places(question)
        chosen: list[Candidate] = []
        if len(places) >= 2:
            for place in places[: self.max_sentences]:
                # The best sentence of the articles about the place, else of those naming it.
                about = min(
                    ranked, key=lambda c: (self.scorer.mention_rank(c.doc_id, place), -c.score)
                )
                if self.scorer.mention_rank(about.doc_id, place) < 2 and not any(
                    _same(c, about) for c in chosen
                ):
                    chosen.append(about)
            return chosen
        for candidate in ranked:
            if candidate.doc_id not in {c.doc_id for c in chosen}:
                chosen.append(candidate)
            if len(chosen) >= 2:
                break
        return chosen

    def generate(self, request: GenerationRequest) -> str:
        return "".join(self.stream(request))

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        for candidate in self.select(request.question, request.passages):
            yield f"{candidate.text}[{candidate.n}]"


def extractive_factory(
    settings: Settings, *, scorer: EvidenceScorer, **deps: Any
) -> ExtractiveClient:
    """The registry's "extractive": it needs the index's evidence scorer, not settings."""
    return ExtractiveClient(scorer)
