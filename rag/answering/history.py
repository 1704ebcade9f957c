"""How much of a conversation the answerer reads: bounded, whatever the client sends.

Tagging, tokenizing and prompting all cost time in proportion to the text they are given
(jieba's tagger about 3 ms per character it does not know, in pure Python holding the
GIL), so the history is cut before any of them sees it:

- a turn longer than `max_turn_chars` is refused (422): no real turn is that long;
- past `max_history_chars` in all, the oldest turns are dropped (chat UIs resend the whole
  conversation every time, and a follow-up needs only the last few turns);
- the follow-up carry-over reads only the most recent user text, `followup_chars` at most.
"""

from __future__ import annotations

from rag.errors import InvalidRequestError
from rag.schemas import ChatMessage


def bounded_history(
    history: list[ChatMessage] | None, *, max_turn_chars: int, max_history_chars: int
) -> list[ChatMessage]:
    """The turns the answerer reads: system turns left out (our system prompt governs),
    a turn over the limit refused, the most recent turns kept within the total."""
    turns = history or []
    check_turns(turns, max_turn_chars)
    kept: list[ChatMessage] = []
    total = 0
    for message in reversed([m for m in turns if m.role != "system"]):
        total += len(message.content)
        if total > max_history_chars:
            break
        kept.append(message)
    return kept[::-1]


def check_turns(history: list[ChatMessage] | None, max_turn_chars: int) -> None:
    """A 422-bound error for a turn over `max_turn_chars` (checked before any queueing)."""
    for i, message in enumerate(history or []):
        if len(message.content) > max_turn_chars:
            raise InvalidRequestError(
                f"history[{i}] is {len(message.content)} characters long; the limit is "
                f"{max_turn_chars} per turn (RAG_MAX_TURN_CHARS)"
            )


def followup_window(history: list[ChatMessage], chars: int) -> list[ChatMessage]:
    """The most recent user turns, oldest first, holding at most `chars` characters; the
    oldest one kept is cut to its beginning (where a question names its subject)."""
    window: list[ChatMessage] = []
    left = chars
    for message in reversed(history):
        text = message.content.strip()
        if message.role != "user" or not text:
            continue
        if left <= 0:
            break
        window.append(ChatMessage(role="user", content=text[:left]))
        left -= len(text)
    return window[::-1]


def followup_chars(history: list[ChatMessage] | None, chars: int) -> int:
    """How many characters of `history` the follow-up rewrite reads (for admission)."""
    return sum(len(m.content) for m in followup_window(history or [], chars))
