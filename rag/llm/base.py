"""The LLM client interface: one request shape for every backend.

A request carries both the rendered chat messages (for model backends) and the
question with its numbered passages (for the extractive backend, which needs no model).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from rag.schemas import ChatMessage, Hit


@dataclass(frozen=True)
class GenerationRequest:
    question: str
    passages: list[Hit]  # passage [n] is passages[n - 1]
    messages: list[ChatMessage] = field(default_factory=list)


class LLMClient(Protocol):
    name: str

    def generate(self, request: GenerationRequest) -> str:
        """The whole reply. Raises LLMError naming the backend on failure."""
        ...

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """The reply piece by piece. Raises LLMError naming the backend on failure."""
        ...
