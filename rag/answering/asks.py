"""Split a multi-part question into its asks, so each is answered by its own sentence.

"这个组织叫什么?是谁牵头的?现在有多少人?" asks three things; the best-scoring sentences
of the whole question tend to answer the first ask three times over.
"""

from __future__ import annotations

import re

# Question marks end an ask; so do "and how many/what/who..." in English.
_CHINESE_END = re.compile(r"(?<=[?\uff1f;\uff1b])")  # ASCII or full-width ? ;
_ENGLISH_AND = re.compile(
    r"(?<=[,?\uff0c\uff1f])\s*(?:and\s+)?(?=(?:how|what|who|when|which|where|why)\b)|"
    r"\s+and\s+(?=(?:how|what|who|when|which|where|why)\b)",
    re.IGNORECASE,
)
_EDGES = re.compile(r"^[\s,\uff0c]+|[\s,\uff0c]+$")
# An ask ends in a question mark or holds a question word: "Up to now, how many…" is one
# ask after a lead-in, not two; "叫什么?是谁牵头的" is two, though the last lacks its mark.
_ASKING = re.compile(r"[?\uff1f]$")
INTERROGATIVE = re.compile(
    r"多少|几|哪|谁|什么|怎么|怎样|如何|为何|为什么|\b(?:how|what|which|who|whom|when|why)\b",
    re.IGNORECASE,
)
MIN_ASK_CHARS = 4


def split_asks(question: str) -> list[str]:
    """The question's asks in order; a single-ask question is one ask."""
    parts = _CHINESE_END.split(question)
    asks: list[str] = []
    for part in parts:
        asks.extend(_ENGLISH_AND.split(part))
    asks = [_EDGES.sub("", a) for a in asks]
    return [a for a in asks if len(a) >= MIN_ASK_CHARS] or [question]


def several_asks(question: str) -> bool:
    """Does the question ask two things or more ("叫什么?是谁牵头的?")?"""
    asks = split_asks(question)
    return sum(bool(_ASKING.search(a) or INTERROGATIVE.search(a)) for a in asks) >= 2
