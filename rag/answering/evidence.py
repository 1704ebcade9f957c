"""How well a sentence or passage answers a question, without a generative model.

Shared by the extractive answerer (which sentences to quote) and by abstention (is
there evidence at all). Lexical coverage is IDF-weighted over the question's content
words, with IDF read from the BM25 index: a rare question word that no passage
contains (say "GDP" or "出生") weighs heavily, which is what separates unanswerable
questions about real places from answerable ones. Semantic similarity comes from the
passage vectors already in FAISS, so answering embeds nothing beyond the query.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from cachetools import LRUCache

from rag.answering.slots import UNIT, figure_with_unit
from rag.index import IndexBundle
from rag.query import question_language
from rag.retrieval import Retriever
from rag.schemas import Hit

_NUMBER_QUESTION = re.compile(
    r"多少|几[个名人项家次年亩万条所支座处]|几|数量|比例|多大|多高|多长|多久|哪一年|何时|"
    r"how many|how much|what share|what percentage|when|what year",
    re.IGNORECASE,
)
_WHO_QUESTION = re.compile(
    r"谁|哪位|哪些人|什么人|姓名|名字|(?:书记|支书|主任|长|负责人|带头人|老人|人)叫什么|"
    r"\bwho\b|\bwhose\b|\bname",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d")
# Questions that ask about several places or articles at once ("哪几篇报道…各以什么身份").
_COMPARATIVE = re.compile(
    r"分别|各自|各[有是为按涉指以用]|和.{1,12}(?:都|各)|以及|哪些报道|哪几篇|哪些地方|"
    r"respectively|\bboth\b|compar|\bthese reports\b|\bwhich reports\b",
    re.I,
)
_PLACE_SUFFIX = re.compile(r"(?:市|区|县|镇|乡|村|街道|社区|学院)$")
_ADMIN_SUFFIXES = frozenset(("市", "区", "县", "镇", "乡", "村", "街道", "社区"))
_GENERIC_PLACE = re.compile(r"^(?:全|该|各|本|每|城|农|小|社)")
_ROLE = re.compile(
    r"书记|支书|主任|院长|部长|董事长|会长|市长|县长|区长|镇长|乡长|村长|队长|局长|所长|站长|"
    r"团长|组长|教授|校长|经理|主席"
)
_TITLED_NAME = re.compile(rf"(?:{_ROLE.pattern})([\u4e00-\u9fff]{{2,3}})")
_ASCII_WORD = re.compile(r"^[a-z]+$")
_CJK = re.compile(r"[\u4e00-\u9fff]")


NAME_CACHE = 4096  # names known_name() / documents_naming() looked up in the articles
T = TypeVar("T")
PERSON_BONUS = 0.3  # a sentence naming someone the question does not (0.1-0.3 alike on dev)


def is_comparative(question: str) -> bool:
    return bool(_COMPARATIVE.search(question))


def about_one(question: str, places: list[str], place: str) -> str:
    """A comparison read for one of its places: the other places' names taken out, so
    that their words neither retrieve nor score for this one."""
    for other in places:
        if other != place:
            question = question.replace(other, "")
    return question


@dataclass(frozen=True)
class QuestionProfile:
    text: str
    language: str
    weights: dict[str, float]  # content token -> IDF
    wants_number: bool
    wants_person: bool
    units: tuple[str, ...] = ()

    @property
    def total_weight(self) -> float:
        return sum(self.weights.values())


class EvidenceScorer:
    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever
        self.bundle: IndexBundle = retriever.bundle
        self._rows = {chunk.chunk_id: i for i, chunk in enumerate(self.bundle.store.chunks)}
        # The last question's vector: similarity() runs once per hit, and must not embed
        # the question again even when the retriever's cache is off or has evicted it.
        self._last_query: tuple[str, np.ndarray] | None = None
        # known_name() and documents_naming() may scan every article; a scorer lives as
        # long as its index generation, so a name's answer holds until the next reload.
        self._names: LRUCache[str, bool] = LRUCache(maxsize=NAME_CACHE)
        self._naming: LRUCache[str, tuple[str, ...]] = LRUCache(maxsize=NAME_CACHE)
        self._names_lock = threading.Lock()

    def profile(self, question: str) -> QuestionProfile:
        language = question_language(question)
        # English questions count the names they spell ("Liuyang": 浏阳) and the corpus
        # words their phrases gloss ("party members": 党员).
        spelled = self.retriever.lexical_form(question) if language == "en" else question
        tokens = set(self.bundle.lexical.tokenizer.tokenize(spelled))
        if language == "en":
            # English words cannot match Chinese text; keep numbers and CJK words only,
            # and the words the corpus has no word for, which no passage holds.
            tokens = {t for t in tokens if not _ASCII_WORD.match(t)}
            tokens |= set(self.retriever.unglossed(question))
        return QuestionProfile(
            text=question,
            language=language,
            weights={t: self.bundle.lexical.idf(t) for t in tokens},
            wants_number=bool(_NUMBER_QUESTION.search(question)),
            wants_person=bool(_WHO_QUESTION.search(question)),
            units=tuple(dict.fromkeys(m.group(1) for m in UNIT.finditer(question))),
        )

    def known_word(self, token: str) -> bool:
        """Whether any passage uses `token`: words the corpus never uses are what
        unanswerable near-misses ask about ("GDP", "出生")."""
        return self.bundle.lexical.document_frequency(token) > 0

    def known_name(self, name: str) -> bool:
        """Whether the corpus mentions `name`: a word of the index, else Chinese text
        anywhere in an article. The tokenizer cuts by context: "青山县" is 青山 + 县 in a
        question, and "镇隆兴坳村" is 镇隆 + 兴坳 + 村 in the article naming 隆兴坳."""
        if self.known_word(name):
            return True
        if not _CJK.search(name):
            return False
        documents = self.bundle.store.documents
        return self._scanned(self._names, name, lambda: any(name in d.text for d in documents))

    def documents_naming(self, name: str) -> tuple[str, ...]:
        """The articles (doc ids) whose title or text names `name`, scanned once per name."""
        documents = self.bundle.store.documents
        return self._scanned(
            self._naming,
            name,
            lambda: tuple(d.doc_id for d in documents if name in d.title or name in d.text),
        )

    def _scanned(self, cache: LRUCache[str, T], name: str, scan: Callable[[], T]) -> T:
        """`scan()`'s answer for `name`, computed once per index generation (the cache)."""
        with self._names_lock:
            found = cache.get(name)
        if found is None:
            found = scan()
            with self._names_lock:
                cache[name] = found
        return found

    def places(self, question: str) -> list[str]:
        """Place and organisation names in the question, in order ("涪口区", "浏阳"),
        also those an English question spells in pinyin ("Liuyang and Guiyang")."""
        names = self._tagged_places(question)
        if question_language(question) == "en":
            spelled = " ".join(self.retriever.names.names(question))
            # "Fukou (涪口区)": the spelling names the place written out beside it.
            names += [n for n in self._tagged_places(spelled) if not any(n in m for m in names)]
        return list(dict.fromkeys(names))

    def _tagged_places(self, text: str) -> list[str]:
        """The tagger's place names in `text`; one it splits from its suffix ("宁乡" +
        "市") is taken whole."""
        names = []
        tagged = self.bundle.lexical.tokenizer.tagged_words(text)
        for i, (word, flag) in enumerate(tagged):
            if flag == "ns" and i + 1 < len(tagged) and tagged[i + 1][0] in _ADMIN_SUFFIXES:
                word = word + tagged[i + 1][0]
            named = flag == "ns" or (len(word) >= 3 and _PLACE_SUFFIX.search(word))
            if named and len(word) >= 2 and not _GENERIC_PLACE.match(word):
                names.append(word)
        return names

    def people(self, text: str) -> list[str]:
        """Who `text` names: persons and bodies (the POS tagger's "nr", "nt", "nz"; "谁牵头"
        may ask for a body), and the words a role title introduces ("书记曹志军"), which
        the tagger often does not know."""
        tagged = self.bundle.lexical.tokenizer.tagged_words(text)
        named = [w for w, flag in tagged if flag in ("nr", "nt", "nz") and len(w) >= 2]
        return named + [m.group(1) for m in _TITLED_NAME.finditer(text)]

    def mention_rank(self, doc_id: str, name: str) -> int:
        """0: the article is about `name` (title, subtitle), 1: mentions it, 2: does not."""
        document = self.bundle.store.document(doc_id)
        if document is None:
            return 2
        if name in f"{document.title}{document.subtitle}":
            return 0
        return 1 if name in document.text else 2

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
        vector = self.bundle.dense.vector(row)
        return float(np.dot(self.query_vector(query), vector))

    def sentence_similarity(self, query: str, doc_id: str, start: int) -> float:
        """Cosine between the query and one sentence's stored vector (0 if not stored)."""
        vector = self.bundle.sentences.vector(doc_id, start)
        return 0.0 if vector is None else float(np.dot(self.query_vector(query), vector))

    def query_vector(self, query: str) -> np.ndarray:
        """The query's embedding, computed at most once for consecutive calls."""
        last = self._last_query  # one read: other threads may replace it meanwhile
        if last is None or last[0] != query:
            last = (query, self.retriever.embed_query(query))
            self._last_query = last
        return last[1]

    def answer_type_bonus(self, profile: QuestionProfile, sentence: str) -> float:
        bonus = 0.0
        if profile.wants_number and _DIGITS.search(sentence):
            bonus += 0.15
        if any(figure_with_unit(unit).search(sentence) for unit in profile.units):
            bonus += 0.2
        if profile.wants_person and _ROLE.search(sentence):
            bonus += 0.1
        if profile.wants_person and any(n not in profile.text for n in self.people(sentence)):
            bonus += PERSON_BONUS
        return bonus
