"""Make a follow-up question ("那新建了多少个村部?") retrievable on its own.

Retrieval sees one question, not the conversation, so a follow-up has to carry the names
it leaves out. Without a model, the names (places, organisations, people) of the previous
question are carried over; with an LLM client the model rewrites the question, and the
carry-over is the fallback when it fails. The carry-over tags only a bounded window of the
most recent user text (rag/answering/history.py), and a question longer than that window is
taken as standalone: the tagger's work never grows with what the client sends.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

from rag.answering.history import followup_window
from rag.answering.prompts import PromptBook
from rag.errors import LLMError
from rag.llm.base import GenerationRequest, LLMClient
from rag.query import question_language
from rag.schemas import ChatMessage

logger = logging.getLogger("rag.answering")

# jieba's tags for place, organisation, person and other proper names.
NAME_TAGS = frozenset({"ns", "nt", "nr", "nz"})
# A word ending in an administrative or institutional suffix, with at least two characters
# before it (so 北塔区 and 湖南工程学院 count, while 该区, 小区 and 社区 do not).
_SUFFIXED = re.compile(r"^[\u4e00-\u9fff]{2,}(?:市|区|县|镇|村|街道|社区|学院)$")
# Signs that a question leans on the previous one: a leading connective, a pronoun, 呢.
_LEANS = re.compile(
    r"^\s*(?:那么|那|还有|另外|and\b|also\b|so\b|what about\b|how about\b)"
    r"|它|他们|她们|该|这个|这些|其|呢"
    r"|\b(?:it|its|they|their|them|there)\b",
    re.IGNORECASE,
)
# What is left of "那么北塔区呢?" once names, connectives and punctuation are gone: nothing.
_FILLER = re.compile(
    r"^\s*(?:那么|那|还有)|^\s*(?:and|what about|how about)\b|呢|[\W_]", re.IGNORECASE
)
# Leading connectives dropped when names are prepended ("那新建了..." -> "涪口区，新建了...").
_CONNECTIVE = re.compile(r"^\s*(?:那么|那|and\b|so\b)[\s,，、]*", re.IGNORECASE)
SHORT_CHARS = 8
_REWRITE_LABEL = re.compile(r"^(?:改写后的问题|问题|rewritten question|question)\s*[:：]\s*", re.I)
_QUOTES = "\"'“”‘’「」『』"


class Tagger(Protocol):
    def tagged_words(self, text: str) -> list[tuple[str, str]]: ...


def names(text: str, tokenizer: Tagger) -> list[str]:
    """Proper names in `text`, in order of appearance, without repeats."""
    found: list[str] = []
    for word, tag in tokenizer.tagged_words(text):
        if len(word) >= 2 and (tag in NAME_TAGS or _SUFFIXED.match(word)) and word not in found:
            found.append(word)
    return found


def looks_like_follow_up(question: str, own_names: list[str]) -> bool:
    compact = re.sub(r"[\W_]+", "", question)
    return len(compact) <= SHORT_CHARS or bool(_LEANS.search(question)) or not own_names


def contextualize(question: str, history: list[ChatMessage], tokenizer: Tagger) -> str:
    """`question` with the names it leaves out of the conversation so far.

    Each earlier user turn is resolved against the one before it, so a chain of follow-ups
    keeps the names of the question that started it. A question made only of new names
    ("北塔区呢?") asks the previous question about them instead.
    """
    previous: str | None = None
    for message in history:
        if message.role == "user" and message.content.strip():
            previous = _resolve(message.content.strip(), previous, tokenizer)
    return _resolve(question, previous, tokenizer) if previous else question


def _resolve(question: str, previous: str | None, tokenizer: Tagger) -> str:
    if previous is None:
        return question
    own = names(question, tokenizer)
    before = names(previous, tokenizer)
    rest = question
    for name in own:
        rest = rest.replace(name, "")
    if own and not _FILLER.sub("", rest):
        # Same question, other subject: swap the previous question's first name.
        joined = "、".join(own)
        return previous.replace(before[0], joined, 1) if before else f"{joined}，{previous}"
    if not looks_like_follow_up(question, own):
        return question
    carried = [name for name in before if name not in question]
    if not carried:
        return question
    body = _CONNECTIVE.sub("", question) or question
    if question_language(question) == "en":
        return f"{' '.join(carried)} {body}"
    return f"{'、'.join(carried)}，{body}"


def rewrite(
    question: str,
    history: list[ChatMessage],
    *,
    client: LLMClient,
    prompts: PromptBook,
    tokenizer: Tagger,
    max_chars: int,
    window: list[ChatMessage],
) -> str:
    """The model's standalone version of `question`; the name carry-over (over `window`,
    the recent user turns) if it fails."""
    request = GenerationRequest(
        question=question, passages=[], messages=prompts.rewrite_messages(question, history)
    )
    try:
        reply = client.generate(request)
    except LLMError as exc:
        logger.warning("question rewrite failed, carrying names over instead: %s", exc)
        return contextualize(question, window, tokenizer)
    lines = [line.strip() for line in reply.splitlines() if line.strip()]
    text = _REWRITE_LABEL.sub("", lines[0]).strip(_QUOTES).strip() if lines else ""
    if not text or len(text) > max_chars:
        return contextualize(question, window, tokenizer)
    return text


def standalone_question(
    question: str,
    history: list[ChatMessage],
    *,
    model: LLMClient | None,
    prompts: PromptBook,
    tokenizer: Tagger,
    max_chars: int,
    window_chars: int,
) -> str:
    """`question` made self-contained for retrieval: rewritten by `model`, or without one
    (the extractive answerer has none) by carrying the names over from the last
    `window_chars` characters of user turns."""
    window = followup_window(history, window_chars)
    if not window or len(question) > window_chars:
        return question  # nothing to lean on, or too long to be leaning on anything
    if model is None:
        resolved = contextualize(question, window, tokenizer)
    else:
        resolved = rewrite(
            question,
            history,
            client=model,
            prompts=prompts,
            tokenizer=tokenizer,
            max_chars=max_chars,
            window=window,
        )
    return resolved if len(resolved) <= max_chars else question
