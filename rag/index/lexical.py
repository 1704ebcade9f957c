"""BM25 over jieba tokens (bm25s), with a user dictionary learned from the corpus."""

from __future__ import annotations

import logging
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
_TOKEN = re.compile(r"[\w\u4e00-\u9fff]")
# Names worth keeping whole: quoted programme names and places with an admin suffix.
_QUOTED = re.compile(r"[“\"]([^”\"]{2,10})[”\"]")
_PLACE = re.compile(r"[\u4e00-\u9fff]{2,4}?(?:市|区|县|镇|乡|村|街道|社区)")


class Tokenizer:
    """jieba in search mode (words and their sub-words), lower-cased, stopwords removed."""

    def __init__(self, user_words: list[str] | None = None) -> None:
        self._jieba = jieba.Tokenizer()
        self._pos = jieba.posseg.POSTokenizer(self._jieba)
        self.user_words = sorted(set(user_words or []))
        for word in self.user_words:
            self._jieba.add_word(word, freq=2000)

    def tagged_words(self, text: str) -> list[tuple[str, str]]:
        """(word, part-of-speech) pairs, for reading a question's structure."""
        return [(p.word, p.flag) for p in self._pos.lcut(text) if p.word.strip()]

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

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for `query` (zeros when no query token is known)."""
        num_docs = int(self.bm25.scores["num_docs"])
        ids = self.bm25.get_tokens_ids(self.tokenizer.tokenize(query))
        if not ids:
            return np.zeros(num_docs, dtype=np.float32)
        return np.asarray(self.bm25.get_scores_from_ids(ids), dtype=np.float32)

    def search(
        self, query: str, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (scores, rows) with a positive score; `allowed` restricts the rows."""
        scores = self.scores(query)
        if allowed is not None:
            masked = np.full_like(scores, 0.0)
            masked[allowed] = scores[allowed]
            scores = masked
        positive = np.flatnonzero(scores > 0)
        if len(positive) > n:
            top = positive[np.argpartition(-scores[positive], n - 1)[:n]]
        else:
            top = positive
        order = top[np.argsort(-scores[top], kind="stable")]
        return scores[order], order

    def save(self, folder: Path) -> None:
        self.bm25.save(str(folder / self.FOLDER), show_progress=False)
        (folder / self.USER_WORDS).write_text("\n".join(self.tokenizer.user_words), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        words = (folder / cls.USER_WORDS).read_text("utf-8").split("\n")
        bm25 = bm25s.BM25.load(str(folder / cls.FOLDER), show_progress=False, verbosity=0)
        return cls(bm25, Tokenizer([w for w in words if w]))
