"""The LLM client interface: one request shape for every backend.

A request carries both the rendered chat messages (for model backends) and the
question with its numbered passages (for the extractive backend, which needs no model).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from rag.schemas import ChatMessage, Hit


@dataclass
class Usage:
    """Tokens a backend reports for one request (0 when it reports none)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class GenerationRequest:
    question: str
    passages: list[Hit]  # passage [n] is passages[n - 1]
    messages: list[ChatMessage] = field(default_factory=list)
    # Filled in by clients whose backend reports token counts; one per request, so a
    # client shared by threads never mixes up whose tokens they were.
    usage: Usage = field(default_factory=Usage)


class LLMClient(Protocol):
    name: str

    def generate(self, request: GenerationRequest) -> str:
        """The whole reply. Raises LLMError naming the backend on failure."""
        ...

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """The reply piece by piece. Raises LLMError naming the backend on failure."""
        ...


@runtime_checkable
class YesNoJudge(Protocol):
    """A client that can answer a yes/no question with a probability (confirmation.py)."""

    def yes_probability(self, messages: list[ChatMessage]) -> float | None:
        """P(yes) of the model's one-word reply to `messages`, or None when the reply is
        neither yes nor no. Raises LLMError naming the backend on failure."""
        ...
