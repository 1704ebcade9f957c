"""BM25 over jieba tokens (bm25s), with a user dictionary learned from the corpus."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from pathlib import Path

import bm25s
import jieba
import jieba.posseg
import numpy as np

jieba.setLogLevel(logging.WARNING)

# Function words and question words carry no evidence; dropping them keeps the
# question's content words in charge of the BM25 score.
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "或",
        "是",
        "在",
        "有",
        "为",
        "对",
        "也",
        "将",
        "把",
        "被",
        "就",
        "都",
        "而",
        "并",
        "之",
        "其",
        "中",
        "于",
        "以",
        "由",
        "从",
        "到",
        "等",
        "这",
        "那",
        "该",
        "此",
        "个",
        "名",
        "吗",
        "呢",
        "吧",
        "啊",
        "什么",
        "哪些",
        "哪个",
        "哪",
        "如何",
        "怎么",
        "怎样",
        "多少",
        "几",
        "谁",
        "为什么",
        "是否",
        "有没有",
        "请问",
        "分别",
        "各自",
        "哪一年",
        "哪年",
        "哪所",
        "哪家",
        "哪里",
        "何时",
        "什么样",
        "有哪些",
        "哪种",
        "具体",
        "主要",
        "情况",
        "方面",
        "一些",
        "怎么样",
        "多大",
        "多长",
        "多久",
        "几个",
        "什么时候",
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "by",
        "with",
        "what",
        "which",
        "who",
        "how",
        "why",
        "when",
        "where",
        "did",
        "does",
        "do",
        "many",
        "much",
    ]
)
MAX_TAGGED_CHARS = 300
_TOKEN = re.compile(r"[\w\u4e00-\u9fff]")
# Names worth keeping whole: quoted programme names and places with an admin suffix.
_QUOTED = re.compile(r"[“\"]([^”\"]{2,10})[”\"]")
_PLACE = re.compile(r"[\u4e00-\u9fff]{2,4}?(?:市|区|县|镇|乡|村|街道|社区)")


def pos_tagger(tokenizer: jieba.Tokenizer) -> jieba.posseg.POSTokenizer:
    """A POS tagger over `tokenizer`, sharing the tag table jieba.posseg read at import.

    `POSTokenizer(tokenizer)` re-reads the 350k-line dictionary for its tags (~1 s of the
    service's start-up); with jieba's default dictionary that table is the one already
    loaded for `jieba.posseg.dt`, so it is copied instead.
    """
    if tokenizer.dictionary != jieba.dt.dictionary:
        return jieba.posseg.POSTokenizer(tokenizer)
    tagger = object.__new__(jieba.posseg.POSTokenizer)
    tagger.tokenizer = tokenizer
    tagger.word_tag_tab = dict(jieba.posseg.dt.word_tag_tab)
    return tagger


class Tokenizer:
    """jieba in search mode (words and their sub-words), lower-cased, stopwords removed."""

    def __init__(self, user_words: list[str] | None = None) -> None:
        self._jieba = jieba.Tokenizer()
        self._pos = pos_tagger(self._jieba)
        self.user_words = sorted(set(user_words or []))
        for word in self.user_words:
            self._jieba.add_word(word, freq=2000)

    def tagged_words(self, text: str) -> list[tuple[str, str]]:
        """(word, part-of-speech) pairs of the first `MAX_TAGGED_CHARS`, for reading a
        question's structure (tagging is pure Python, ~10 ms per unknown character here:
        a question's names and ask sit well within its first few hundred characters)."""
        head = text[:MAX_TAGGED_CHARS]
        return [(p.word, p.flag) for p in self._pos.lcut(head) if p.word.strip()]

    def tokenize(self, text: str) -> list[str]:
        tokens = (t.strip().lower() for t in self._jieba.lcut_for_search(text))
        return [t for t in tokens if t and _TOKEN.search(t) and t not in STOPWORDS]


def corpus_user_words(texts: list[str], min_count: int = 2) -> list[str]:
    """Quoted names (“三定五联”) and place names seen at least `min_count` times."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(m.group(1) for m in _QUOTED.finditer(text))
        counts.update(m.group(0) for m in _PLACE.finditer(text))
    return [w for w, c in counts.items() if c >= min_count and _TOKEN.search(w)]


class LexicalIndex:
    FOLDER = "bm25"
    USER_WORDS = "userdict.txt"

    def __init__(self, bm25: bm25s.BM25, tokenizer: Tokenizer) -> None:
        self.bm25 = bm25
        self.tokenizer = tokenizer

    @classmethod
    def build(cls, texts: list[str], tokenizer: Tokenizer) -> LexicalIndex:
        bm25 = bm25s.BM25()
        corpus_tokens = [tokenizer.tokenize(t) or [""] for t in texts]
        bm25.index(corpus_tokens, show_progress=False)
        return cls(bm25, tokenizer)

    def query_ids(self, query: str) -> list[int]:
        """Token ids of the query's words the index knows (repeats kept, as bm25s scores)."""
        return self.bm25.get_tokens_ids(self.tokenizer.tokenize(query))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for `query` (zeros when no query token is known)."""
        return self._scores(self.query_ids(query))

    def _scores(self, ids: list[int]) -> np.ndarray:
        if not ids:
            return np.zeros(int(self.bm25.scores["num_docs"]), dtype=np.float32)
        return np.asarray(self.bm25.get_scores_from_ids(ids), dtype=np.float32)

    def search(
        self, query: str, n: int, allowed: np.ndarray | None = None, *, prefilter: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (scores, rows) with a positive score, ties by row; `allowed` restricts rows.

        Most rows of a large corpus share some common query word, so selecting among all
        positive scores is what grew with size (5.8 ms of 9 at 10^6 chunks). `prefilter`
        first bounds the n-th best score from below (`score_floor`) and selects only among
        rows at or above that floor: the same result, from a handful of candidates.
        """
        ids = self.query_ids(query)
        scores = self._scores(ids)
        if allowed is not None:
            masked = np.zeros_like(scores)
            masked[allowed] = scores[allowed]
            scores = masked
        floor = self.score_floor(ids, scores, n) if prefilter else 0.0
        candidates = np.flatnonzero(scores >= floor) if floor > 0 else np.flatnonzero(scores > 0)
        return top_rows(scores, candidates, n)

    def score_floor(self, ids: list[int], scores: np.ndarray, n: int) -> float:
        """A lower bound on the n-th best score (0.0 when none is cheap to find).

        The rows holding the rarest query word that occurs in at least n rows are n distinct
        rows; the n-th best of their scores cannot exceed the n-th best overall.
        """
        if n <= 0 or not ids:
            return 0.0
        matrix = self.bm25.scores
        indptr = matrix["indptr"]
        unique = np.unique(np.asarray(ids, dtype=np.int64))
        df = indptr[unique + 1] - indptr[unique]
        common = df >= n
        if not common.any():
            return 0.0
        token = unique[common][np.argmin(df[common])]
        rows = matrix["indices"][indptr[token] : indptr[token + 1]]
        sample = scores[rows]
        return float(np.partition(sample, len(sample) - n)[len(sample) - n])

    def save(self, folder: Path) -> None:
        self.bm25.save(str(folder / self.FOLDER), show_progress=False)
        (folder / self.USER_WORDS).write_text("\n".join(self.tokenizer.user_words), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        words = (folder / cls.USER_WORDS).read_text("utf-8").split("\n")
        bm25 = bm25s.BM25.load(str(folder / cls.FOLDER), show_progress=False, verbosity=0)
        return cls(bm25, Tokenizer([w for w in words if w]))

    def vocabulary(self) -> list[str]:
        """Every token the index knows."""
        return list(self.bm25.vocab_dict)

    def document_frequency(self, token: str) -> int:
        """How many rows hold `token` (0 for a token the index does not know)."""
        indptr = self.bm25.scores["indptr"]
        token_id = self.bm25.vocab_dict.get(token)
        if token_id is None or token_id + 1 >= len(indptr):
            return 0
        return int(indptr[token_id + 1] - indptr[token_id])

    def idf(self, token: str) -> float:
        """BM25's IDF of `token` over the rows (a token the index does not know is in none)."""
        df = self.document_frequency(token)
        n = int(self.bm25.scores["num_docs"])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))


def top_rows(scores: np.ndarray, candidates: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n best `candidates` by score, best first, ties by row (deterministic)."""
    if n <= 0 or len(candidates) == 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    values = scores[candidates]
    if len(candidates) > n:
        nth = np.partition(values, len(values) - n)[len(values) - n]
        keep = values >= nth  # every row tied with the n-th best, so ties resolve by row
        candidates, values = candidates[keep], values[keep]
    order = np.lexsort((candidates, -values))[:n]
    return values[order], candidates[order].astype(np.int64)
