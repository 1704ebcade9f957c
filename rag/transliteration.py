"""English questions spell the corpus's names in pinyin: "Liuyang" is 浏阳, "Fukou" 涪口.

Words cannot match Chinese text, but names can, once spelled back in characters: each
word the lexical index knows (two to four characters) is keyed by its toneless pinyin,
and a capitalised word or pair of words in an English question that spells one of them
brings that word into the lexical search and the evidence scoring
(`Retriever.lexical_form`). The table is built on the first English question (a fraction
of a second) and kept with the index.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from pypinyin import lazy_pinyin

_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
# "Liuyang", "Zhang Yexi", "Longxing'ao": one or two capitalised words.
_NAME = re.compile(r"\b[A-Z][a-z]+(?:'(?!s\b)[a-z]+)?(?:[ -][A-Z][a-z]+(?:'(?!s\b)[a-z]+)?)?\b")
_SPELLING = re.compile(r"[^a-z]")
_LETTERS = re.compile(r"[a-z]+")
# "Longxing'ao Village (隆兴坳村)": capitalised words the reader gave in characters too.
_WRITTEN_OUT = re.compile(r"((?:[A-Z][\w'-]*\s+)*[A-Z][\w'-]*)\s*[(（][^)）]*[\u4e00-\u9fff]")
MIN_SPELLING = 4  # "Hu", "An": too short to tell a name from chance


class PinyinNames:
    """Toneless pinyin -> the corpus words spelled so, most frequent first."""

    def __init__(self, vocabulary: Callable[[], list[str]], frequency: Callable[[str], int]):
        self._vocabulary = vocabulary
        self._frequency = frequency
        self._table: dict[str, list[str]] | None = None
        self._lock = threading.Lock()

    def table(self) -> dict[str, list[str]]:
        with self._lock:
            if self._table is None:
                table: dict[str, list[str]] = {}
                for word in self._vocabulary():
                    if _CJK_WORD.match(word):
                        table.setdefault("".join(lazy_pinyin(word)), []).append(word)
                for words in table.values():
                    words.sort(key=lambda w: (-self._frequency(w), w))
                self._table = table
            return self._table

    def names(self, question: str) -> list[str]:
        """The corpus words an English question's capitalised words spell, in order."""
        return list(dict.fromkeys(word for _, word in self.spelled(question)))

    def spelled(self, question: str) -> list[tuple[list[str], str]]:
        """(the question's words that spell it, lower case; the corpus word), in order."""
        found: list[tuple[list[str], str]] = []
        for match in _NAME.finditer(question):
            words = match.group(0).replace("-", " ").split(" ")
            # The pair first ("Zhang Yexi" -> 张叶喜), else each word ("Fukou District").
            pair = [words] if len(words) > 1 else []
            for spelling in [*pair, *([w] for w in words)]:
                key = _SPELLING.sub("", "".join(spelling).lower())
                if len(key) >= MIN_SPELLING and key in self.table():
                    words_spelled = _LETTERS.findall(" ".join(spelling).lower())
                    found.append((words_spelled, self.table()[key][0]))
                    break
        return found


def written_out(question: str) -> set[str]:
    """The words (lower case) of names the question also writes in characters."""
    return {w for name in _WRITTEN_OUT.findall(question) for w in _LETTERS.findall(name.lower())}
