"""The default answerer: quotes the passages' best sentences verbatim, each with [n].

It needs no model and can never state what the corpus does not say: every sentence it
outputs is an exact span of the passage it cites.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from rag.answering.asks import split_asks
from rag.answering.evidence import EvidenceScorer, QuestionProfile, about_one, is_comparative
from rag.config import Settings
from rag.index.sentences import chunk_sentences
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


def _by_score(candidate: Candidate) -> float:
    return candidate.score


def _same(a: Candidate, b: Candidate) -> bool:
    """The same sentence (overlapping chunks repeat sentences) or a near-copy of it."""
    return (a.doc_id, a.start) == (b.doc_id, b.start) or _near_duplicate(a.text, b.text)


@dataclass(frozen=True)
class SentenceFeatures:
    """What a sentence's score is made of (also the abstention model's raw material)."""

    n: int  # passage number, 1-based
    doc_id: str
    start: int
    text: str
    coverage: float  # share of the question's IDF mass in the sentence
    context: float  # ... in its article title and section
    passage_similarity: float  # question vs the passage's vector
    sentence_similarity: float  # question vs the sentence's own vector
    answer_type: float  # a number, a unit, a role where the question asks for one
    english: bool


@dataclass(frozen=True)
class Weights:
    """Chosen on the dev split (evals/questions.jsonl) with `python evals/tune_extractive.py`."""

    coverage: float = 0.5
    context: float = 0.25  # title/section words count for part of what the sentence lacks
    english_lexical: float = 0.35  # English words rarely occur in Chinese text
    passage_similarity: float = 1.0
    sentence_similarity: float = 3.0
    answer_type: float = 1.0
    rank: float = 0.1  # a prior of rank / n

    def score(self, f: SentenceFeatures) -> float:
        lexical = f.coverage + self.context * max(f.context - f.coverage, 0.0)
        if f.english:
            lexical *= self.english_lexical
        return (
            self.coverage * lexical
            + self.passage_similarity * f.passage_similarity
            + self.sentence_similarity * f.sentence_similarity
            + self.answer_type * f.answer_type
            + self.rank / f.n
        )


class ExtractiveClient:
    """Scores each passage sentence: lexical coverage of the question (IDF-weighted), the
    semantic similarity of the passage and of the sentence itself, the passage's rank, and
    whether the sentence holds the kind of answer asked for (a number, a person)."""

    name = "extractive"

    def __init__(
        self,
        scorer: EvidenceScorer,
        *,
        weights: Weights | None = None,
        max_sentences: int = 4,
        margin: float = 0.6,
        other_margin: float = 0.1,
    ) -> None:
        self.scorer = scorer
        self.weights = weights or Weights()
        self.max_sentences = max_sentences
        # Sentences within `margin` of the best one are quoted too (both margins chosen on
        # dev: more sentences carry more facts, and more passages to check for nothing).
        self.margin = margin
        # A sentence from a passage the answer does not cite yet must come closer to the
        # best one: each extra passage cited is a passage a reader checks for nothing.
        self.other_margin = other_margin

    def features(self, question: str, passages: list[Hit]) -> list[SentenceFeatures]:
        profile = self.scorer.profile(question)
        english = profile.language == "en"
        found = []
        for n, hit in enumerate(passages, start=1):
            passage_similarity = self.scorer.similarity(question, hit)
            context = self.scorer.coverage(profile, f"{hit.title} {hit.section}")
            for start, end in chunk_sentences(hit):
                text = hit.text[start - hit.start : end - hit.start]
                found.append(
                    SentenceFeatures(
                        n=n,
                        doc_id=hit.doc_id,
                        start=start,
                        text=text,
                        coverage=self.scorer.coverage(profile, text),
                        context=context,
                        passage_similarity=passage_similarity,
                        sentence_similarity=self.scorer.sentence_similarity(
                            question, hit.doc_id, start
                        ),
                        answer_type=self.scorer.answer_type_bonus(profile, text),
                        english=english,
                    )
                )
        return found

    def rank(self, sentences: list[SentenceFeatures]) -> list[Candidate]:
        """The sentences as candidates, best first."""
        scored = [
            Candidate(f.n, f.doc_id, f.start, f.text, self.weights.score(f)) for f in sentences
        ]
        return sorted(scored, key=lambda c: -c.score)

    def candidates(self, question: str, passages: list[Hit]) -> list[Candidate]:
        return self.rank(self.features(question, passages))

    def select(self, question: str, passages: list[Hit]) -> list[Candidate]:
        sentences = self.features(question, passages)
        return self.choose(question, sentences, self.rank(sentences))

    def choose(
        self, question: str, sentences: list[SentenceFeatures], ranked: list[Candidate]
    ) -> list[Candidate]:
        """The answer's sentences among `ranked` (the scored `sentences`, best first)."""
        if not ranked:
            return []
        chosen: list[Candidate] = [ranked[0]]
        asks = split_asks(question)
        # "哪些报道提到了X?分别…": one list across articles, not two asks.
        if is_comparative(question):
            chosen = self._one_per_place(question, sentences, ranked) or chosen
        elif len(asks) > 1:
            chosen = self._one_per_ask(asks, sentences) or chosen
        floor = ranked[0].score - self.margin
        other_floor = ranked[0].score - self.other_margin
        for candidate in ranked[1:]:
            if len(chosen) >= self.max_sentences or candidate.score < floor:
                break
            cited = {c.n for c in chosen}
            if candidate.n not in cited and candidate.score < other_floor:
                continue
            if not any(_same(c, candidate) for c in chosen):
                chosen.append(candidate)
        return chosen

    def _rescored(self, f: SentenceFeatures, profile: QuestionProfile, share: float) -> Candidate:
        """`f` scored for part of the question (`profile`): `share` of its coverage is the
        part's, the rest the whole question's; meaning stays the whole question's, so
        nothing is embedded again."""
        own = self.scorer.coverage(profile, f.text)
        part = replace(
            f,
            coverage=share * own + (1 - share) * f.coverage,
            answer_type=self.scorer.answer_type_bonus(profile, f.text),
        )
        return Candidate(f.n, f.doc_id, f.start, f.text, self.weights.score(part))

    def _one_per_ask(self, asks: list[str], sentences: list[SentenceFeatures]) -> list[Candidate]:
        """For "叫什么?是谁牵头的?": the best sentence for each ask, in the question's order
        (half an ask's coverage is its own: "是谁牵头的" alone does not say of what)."""
        chosen: list[Candidate] = []
        for ask in asks:
            profile = self.scorer.profile(ask)
            best = max((self._rescored(f, profile, 0.5) for f in sentences), key=_by_score)
            if not any(_same(c, best) for c in chosen):
                chosen.append(best)
        return chosen

    def _one_per_place(
        self, question: str, sentences: list[SentenceFeatures], ranked: list[Candidate]
    ) -> list[Candidate]:
        """For "X和Y分别…": the best sentence about each place named, in question order,
        scored for the question without the other places' names.

        Without two names, the best sentence of each of the two best articles.
        """
        places = self.scorer.places(question)
        chosen: list[Candidate] = []
        if len(places) >= 2:
            for place in places[: self.max_sentences]:
                focused = about_one(question, places, place)
                profile = self.scorer.profile(focused)
                # The best sentence of the articles about the place, else of those naming it.
                scored = [
                    (self.scorer.mention_rank(f.doc_id, place), self._rescored(f, profile, 1.0))
                    for f in sentences
                ]
                mention, about = min(scored, key=lambda item: (item[0], -item[1].score))
                if mention < 2 and not any(_same(c, about) for c in chosen):
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
