"""Citations attached by the system: every sentence of a model's answer is checked against
every passage, whatever marker (if any) the model wrote.

Small models cite unreliably (a 1.5B model put a marker on one answer in five), so the
marker a model writes is a hint, not the citation: a sentence keeps the markers of the
passages that support it (`strict_support`), gets the passage(s) that do when it has
none or only wrong ones, and is dropped (or kept and flagged) when no passage does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from rag.answering.citations import (
    CitedSentence,
    is_claim,
    parse_citations,
    strict_support,
)

UnsupportedMode = Literal["drop", "flag"]
SUPPORT_THRESHOLD = 0.5  # as check_support: verbatim and lightly reworded sentences pass
_ASCII_END = re.compile(r"[A-Za-z0-9.,;:!?)\]]$")
_ASCII_START = re.compile(r"^[A-Za-z0-9(]")

# A model that declines in words ("资料中没有提及") and states nothing the passages
# support has declined; beside supported claims, the decline answers one ask ("…,具体
# 金额资料中没有提及") and is kept, uncited.
DECLINE = re.compile(
    r"(?:资料|材料|文中|上述|以上|报道)[^。]{0,12}(?:没有|未|并未|无)(?:提及|提到|涉及|说明|包含|给出|"
    r"相关|具体|明确)|无法(?:回答|确定|得知|提供)|没有(?:找到|相关)|"
    r"not (?:mention|contain|provide|say|specif)|cannot (?:answer|determine)|no information",
    re.IGNORECASE,
)


@dataclass
class Attribution:
    text: str  # the answer as shown: kept sentences with the system's markers
    cited: list[int] = field(default_factory=list)  # passage numbers, first use first
    unsupported: list[str] = field(default_factory=list)  # claims no passage supports
    claims: int = 0  # supported sentences that state something
    reattributed: int = 0  # sentences whose markers the system added or corrected
    declined: bool = False  # the model said in words that the passages do not answer
    dropped_markers: int = 0  # markers naming no retrieved passage, removed


@dataclass(frozen=True)
class _Check:
    question: str
    names: tuple[str, ...]
    sources: list[str]  # where a cited passage's names may appear: its whole article
    threshold: float

    def score(self, sentence: str, passage: str) -> float:
        return strict_support(sentence, passage, self.question)

    def names_hold(self, sentence: str, cited: list[int]) -> bool:
        """A place or body the question names, repeated in the sentence, must be one the
        cited article mentions: no transplanting the question's place onto another's facts."""
        named = [name for name in self.names if name in sentence]
        return all(any(name in self.sources[n - 1] for n in cited) for name in named)


def _support(sentence: CitedSentence, passages: list[str], check: _Check) -> list[int]:
    """The passages to cite for a claim: the model's markers that hold, else the best
    passage, else the best two together (a sentence joining two facts); [] if none."""
    cited = _supporting(sentence, passages, check)
    return cited if cited and check.names_hold(sentence.text, cited) else []


def _supporting(sentence: CitedSentence, passages: list[str], check: _Check) -> list[int]:
    threshold = check.threshold
    scores = [check.score(sentence.text, p) for p in passages]
    kept = [n for n in sentence.markers if scores[n - 1] >= threshold]
    if kept:
        return kept
    order = sorted(range(len(passages)), key=lambda i: -scores[i])
    if not order:
        return []
    best = order[0]
    if scores[best] >= threshold:
        return [best + 1]
    if len(order) > 1 and scores[order[1]] > 0:
        second = order[1]
        joined = passages[best] + "\n" + passages[second]
        if check.score(sentence.text, joined) >= threshold:
            return sorted([best + 1, second + 1])
    return []


def _with_markers(sentence: CitedSentence, markers: list[int]) -> str:
    if markers == sentence.markers:
        return sentence.raw  # as the model wrote it
    return sentence.text + "".join(f"[{n}]" for n in markers)


def _join(pieces: list[tuple[str, bool]]) -> str:
    """Sentences back into one text: lines kept, a space only between Latin sentences."""
    text = ""
    for piece, line_start in pieces:
        if text and line_start:
            text += "\n"
        elif text and _ASCII_END.search(text) and _ASCII_START.search(piece):
            text += " "
        text += piece
    return text


def attribute(
    answer: str,
    passages: list[str],
    *,
    question: str = "",
    names: tuple[str, ...] = (),
    sources: list[str] | None = None,
    unsupported: UnsupportedMode = "drop",
    threshold: float = SUPPORT_THRESHOLD,
) -> Attribution:
    """Check and cite every sentence of `answer` against `passages` ([n] is passages[n-1]).

    `question` is what `strict_support` reads; `names` are the places and bodies it names,
    which a sentence may repeat only from a cited passage's `sources` (its article's text;
    by default the passages themselves).
    """
    check = _Check(question, names, sources or passages, threshold)
    parsed = parse_citations(answer, len(passages))
    result = Attribution(text="", dropped_markers=parsed.dropped_markers)
    pieces: list[tuple[str, bool]] = []
    declines = False
    for sentence in parsed.sentences:
        if not sentence.text:
            continue
        if DECLINE.search(sentence.text):
            declines = True
            pieces.append((sentence.text, sentence.line_start))  # the model's own "not said"
            continue
        if not is_claim(sentence.text):
            pieces.append((sentence.text, sentence.line_start))  # links claims, cites nothing
            continue
        markers = _support(sentence, passages, check)
        if not markers:
            result.unsupported.append(sentence.text)
            if unsupported == "flag":
                pieces.append((sentence.text, sentence.line_start))
            continue
        result.claims += 1
        result.reattributed += markers != sentence.markers
        result.cited.extend(n for n in markers if n not in result.cited)
        pieces.append((_with_markers(sentence, markers), sentence.line_start))
    result.declined = declines and not result.claims
    result.text = _join(pieces) if result.claims else ""
    return result
