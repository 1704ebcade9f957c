"""Split a multi-part question into its asks, so each is answered by its own sentence.

"这个组织叫什么?是谁牵头的?现在有多少人?" asks three things; the best-scoring sentences
of the whole question tend to answer the first ask three times over.
"""

from __future__ import annotations

import re

# Question marks end an ask; so do "and how many/what/who..." in English.
_CHINESE_END = re.compile(r"(?<=[??;;])")
_ENGLISH_AND = re.compile(
    r"(?<=[,?])\s*(?:and\s+)?(?=(?:how|what|who|when|which|where|why)\b)|"
    r"\s+and\s+(?=(?:how|what|who|when|which|where|why)\b)",
    re.IGNORECASE,
)
_EDGES = re.compile(r"^[\s,,]+|[\s,,]+$")
MIN_ASK_CHARS = 4


def split_asks(question: str) -> list[str]:
    """The question's asks in order; a single-ask question is one ask."""
    parts = _CHINESE_END.split(question)
    asks: list[str] = []
    for part in parts:
        asks.extend(_ENGLISH_AND.split(part))
    asks = [_EDGES.sub("", a) for a in asks]
    return [a for a in asks if len(a) >= MIN_ASK_CHARS] or [question]
