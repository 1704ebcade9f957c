"""Prompt templates from `prompts/` (packaged as `rag/prompts`), rendered into chat messages.

Passages are numbered and fenced (<<< >>>) after the system instructions, so text inside
an article is always quoted material, never an instruction.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

from rag.errors import RagError
from rag.query import question_language
from rag.schemas import ChatMessage, Hit


def default_prompts_dir() -> Traversable:
    """The prompts installed with the package. `rag/prompts` links to the top-level
    `prompts/` (the one place to edit them), and a wheel carries a copy of the files."""
    return files("rag") / "prompts"


@dataclass(frozen=True)
class PromptBook:
    system: str
    answer: str
    passage: str
    rewrite: str
    check: str
    refusal: dict[str, str]

    @classmethod
    def load(cls, folder: Traversable | None = None) -> PromptBook:
        """The prompts in `folder` (RAG_PROMPTS_DIR), or the packaged ones when it is None."""
        where = default_prompts_dir() if folder is None else folder

        def read(name: str) -> str:
            try:
                return (where / name).read_text("utf-8").strip()
            except OSError as exc:
                raise RagError(f"prompt file missing: {where / name}") from exc

        return cls(
            system=read("system.md"),
            answer=read("answer.md"),
            passage=read("passage.md"),
            rewrite=read("rewrite.md"),
            check=read("check.md"),
            refusal={"zh": read("refusal.zh.txt"), "en": read("refusal.en.txt")},
        )

    def render_passages(self, passages: list[tuple[int, Hit]]) -> str:
        """Passages under their numbers ([n] is the n-th retrieved, even if some are left out)."""
        return "\n\n".join(
            self.passage.format(
                n=n,
                title=hit.title,
                section=f" · {hit.section}" if hit.section else "",
                # Fence markers inside an article must not close the quote early.
                text=hit.text.replace("<<<", "‹‹‹").replace(">>>", "›››"),
            )
            for n, hit in passages
        )

    def answer_messages(
        self,
        question: str,
        passages: list[tuple[int, Hit]],
        history: list[ChatMessage] | None = None,
    ) -> list[ChatMessage]:
        user = self.answer.format(passages=self.render_passages(passages), question=question)
        return [
            ChatMessage(role="system", content=self.system),
            *(history or []),
            ChatMessage(role="user", content=user),
        ]

    def rewrite_messages(self, question: str, history: list[ChatMessage]) -> list[ChatMessage]:
        lines = "\n".join(f"{m.role}: {m.content}" for m in history if m.role != "system")
        return [
            ChatMessage(role="user", content=self.rewrite.format(history=lines, question=question))
        ]

    def check_messages(self, question: str, passages: list[tuple[int, Hit]]) -> list[ChatMessage]:
        """Do these passages answer the question? (confirmation.py)"""
        user = self.check.format(passages=self.render_passages(passages), question=question)
        return [ChatMessage(role="user", content=user)]

    def refusal_for(self, question: str) -> str:
        return self.refusal[question_language(question)]
