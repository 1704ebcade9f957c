"""How well a sentence or passage answers a question, without a generative model.

Shared by the extractive answerer (which sentences to quote) and by abstention (is
there evidence at all). Lexical coverage is IDF-weighted over the question's content
words, with IDF read from the BM25 index: a rare question word that no passage
contains (say "GDP" or "出生") weighs heavily, which is what separates unanswerable
questions about real places from answerable ones. Semantic similarity comes from the
passage vectors already in FAISS, so answering embeds nothing beyond the query.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from rag.answering.prompts import question_language
from rag.index import IndexBundle
from rag.retrieval import Retriever
from rag.schemas import Hit

_NUMBER_QUESTION = re.compile(
    r"多少|几[个名人项家次年亩万条所支座处]|几|数量|比例|多大|多高|多长|多久|哪一年|何时|"
    r"how many|how much|what share|what percentage|when|what year",
    re.IGNORECASE,
)
_WHO_QUESTION = re.compile(
    r"谁|哪位|哪些人|什么人|姓名|名字|\bwho\b|\bwhose\b|\bname", re.IGNORECASE
)
_DIGITS = re.compile(r"\d")
_ROLE = re.compile(r"书记|主任|院长|部长|董事长|会长|市长|县长|区长|镇长|队长|教授|校长|经理|主席")
_ASCII_WORD = re.compile(r"^[a-z]+$")


@dataclass(frozen=True)
class QuestionProfile:
    text: str
    language: str
    weights: dict[str, float]  # content token -> IDF
    wants_number: bool
    wants_person: bool

    @property
    def total_weight(self) -> float:
        return sum(self.weights.values())


class EvidenceScorer:
    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever
        self.bundle: IndexBundle = retriever.bundle
        bm25 = self.bundle.lexical.bm25
        self._vocab: dict[str, int] = bm25.vocab_dict
        indptr = np.asarray(bm25.scores["indptr"])
        self._df = np.diff(indptr)
        self._n = int(bm25.scores["num_docs"])
        self._rows = {chunk.chunk_id: i for i, chunk in enumerate(self.bundle.store.chunks)}

    def idf(self, token: str) -> float:
        token_id = self._vocab.get(token)
        df = int(self._df[token_id]) if token_id is not None and token_id < len(self._df) else 0
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5))

    def profile(self, question: str) -> QuestionProfile:
        tokens = set(self.bundle.lexical.tokenizer.tokenize(question))
        language = question_language(question)
        if language == "en":
            # English words cannot match Chinese text; keep numbers and CJK names only.
            tokens = {t for t in tokens if not _ASCII_WORD.match(t)}
        return QuestionProfile(
            text=question,
            language=language,
            weights={t: self.idf(t) for t in tokens},
            wants_number=bool(_NUMBER_QUESTION.search(question)),
            wants_person=bool(_WHO_QUESTION.search(question)),
        )

    def coverage(self, profile: QuestionProfile, text: str) -> float:
        """Share of the question's IDF mass whose words appear in `text`."""
        total = profile.total_weight
        if total <= 0:
            return 0.0
        lowered = text.lower()
        return sum(w for t, w in profile.weights.items() if t in lowered) / total

    def similarity(self, query: str, hit: Hit) -> float:
        """Cosine between the query and the hit's stored passage vector."""
        row = self._rows.get(hit.chunk_id)
        if row is None:
            return 0.0
        vector = self.bundle.dense.index.reconstruct(row)
        return float(np.dot(self.retriever.embed_query(query), vector))

    def answer_type_bonus(self, profile: QuestionProfile, sentence: str) -> float:
        bonus = 0.0
        if profile.wants_number and _DIGITS.search(sentence):
            bonus += 0.15
        if profile.wants_person and _ROLE.search(sentence):
            bonus += 0.1
        return bonus
