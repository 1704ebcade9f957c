"""Decide from retrieval evidence whether the corpus answers a question at all.

Small local models refuse answerable questions when the prompt tells them to refuse
when unsure, so the decision is made here, before and after generation, from checks
that can be measured on the question set (`rag eval` reports abstention accuracy and
false refusals):

1. coverage: the best evidence sentences (with their article title and section) must
   cover enough of the question's IDF-weighted content words;
2. answer type: "多少名/多少亿元" needs a number with that unit in the evidence, and
   "哪一年/何时" a date;
3. focus: the thing asked about ("什么职务", "出生年份是", "GDP是多少") must occur in
   the evidence, or at least somewhere in the corpus when coverage is otherwise high.

Thresholds were calibrated on evals/questions.jsonl (see README for the figures).
English questions cannot be checked lexically against Chinese text, so only the
semantic retrieval evidence applies to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answering.evidence import UNIT, EvidenceScorer, QuestionProfile, figure_with_unit

_WHEN = re.compile(r"哪一年|哪年|何时|什么时候|哪一月|几月|哪天|\bwhen\b|\bwhat year\b", re.I)
_ACRONYM = re.compile(r"\b[A-Z]{2,6}\b")
_DATE = re.compile(r"\d{1,4}\s*[年月日]")
# Question words after which the asked-for thing is named ("什么职务", "哪所医学院"),
# and before which it is named ("总收入是多少", "GDP是多少").
_ASK_AFTER = {"什么", "哪", "哪所", "哪位", "哪个", "哪项", "哪座", "哪家", "哪种", "哪些", "怎样"}
_ASK_BEFORE = {"多少", "几", "哪一年", "第几"}
_FILLER = {
    "的",
    "了",
    "过",
    "是",
    "有",
    "为",
    "在",
    "达到",
    "分别",
    "各",
    "总共",
    "一共",
    "共",
    "大约",
    "约",
    "都",
    "又",
    "还",
    "所",
    "个",
    "?",
    "？",
    "、",
    ",",
    "，",
}
# Nouns name the asked-for thing; names of people, places and bodies are the subject.
_ENTITY_TAGS = {"nr", "ns", "nt", "nrt", "nrfg"}


def _is_attribute(word: str, flag: str) -> bool:
    return len(word) >= 2 and (flag == "eng" or (flag.startswith("n") and flag not in _ENTITY_TAGS))


@dataclass(frozen=True)
class AbstentionThresholds:
    min_coverage: float = 0.3  # below it nothing in the evidence is about the question
    focus_coverage: float = 0.6  # a missing focus word is forgiven above this coverage
    # The number or date asked for must be in a sentence about the question: one whose
    # coverage is at least this share of the best sentence's.
    answer_share: float = 0.6


@dataclass(frozen=True)
class Verdict:
    answerable: bool
    reason: str


def question_focus(tagged: list[tuple[str, str]]) -> list[str]:
    """The nouns naming what is asked for ("职务", "总收入", "gdp"), from tagged words."""
    words = [w for w, _ in tagged]
    found = []
    for i, word in enumerate(words):
        if word in _ASK_AFTER:
            window = [p for p in tagged[i + 1 : i + 4] if p[0] not in _FILLER]
        elif word in _ASK_BEFORE:
            if i + 1 < len(words) and UNIT.match(word + words[i + 1]):
                continue  # "多少名": the unit check covers it
            window = [p for p in reversed(tagged[max(0, i - 4) : i]) if p[0] not in _FILLER]
        else:
            continue
        if window and _is_attribute(*window[0]):
            found.append(window[0][0].lower())
    return found


class AbstentionPolicy:
    def __init__(
        self, scorer: EvidenceScorer, thresholds: AbstentionThresholds | None = None
    ) -> None:
        self.scorer = scorer
        self.thresholds = thresholds or AbstentionThresholds()
        self._corpus_text = "\n".join(
            f"{d.title}\n{d.subtitle}\n{d.text}" for d in scorer.bundle.store.documents
        ).lower()

    def judge(self, question: str, evidence: list[str]) -> Verdict:
        """`evidence`: the best sentences, each with its article title and section."""
        if not evidence:
            return Verdict(False, "no passage matches the question")
        profile: QuestionProfile = self.scorer.profile(question)
        joined = "\n".join(evidence).lower()
        coverages = [self.scorer.coverage(profile, text) for text in evidence]
        coverage = max(coverages)
        best = "\n".join(
            text
            for text, c in zip(evidence, coverages, strict=True)
            if profile.language == "en" or c >= self.thresholds.answer_share * coverage
        )
        unit = UNIT.search(question)
        if unit and not figure_with_unit(unit.group(1)).search(best):
            return Verdict(False, f"no figure in '{unit.group(1)}' in the evidence")
        if _WHEN.search(question) and not _DATE.search(best):
            return Verdict(False, "no date in the evidence")
        if profile.language == "en":
            # Acronyms (GDP, CPI) are the one kind of English word Chinese text also uses.
            for acronym in _ACRONYM.findall(question):
                if acronym.lower() not in self._corpus_text:
                    return Verdict(False, f"'{acronym}' appears nowhere in the corpus")
            return Verdict(True, "semantic retrieval evidence")
        if coverage < self.thresholds.min_coverage:
            return Verdict(False, f"evidence covers {coverage:.0%} of the question")
        tagged = self.scorer.bundle.lexical.tokenizer.tagged_words(question)
        for focus in question_focus(tagged):
            if focus in joined:
                continue
            if focus not in self._corpus_text:
                return Verdict(False, f"'{focus}' appears nowhere in the corpus")
            if coverage < self.thresholds.focus_coverage:
                return Verdict(False, f"'{focus}' is not in the evidence")
        return Verdict(True, f"evidence covers {coverage:.0%} of the question")
