"""The Answer built from what a client wrote: checked, cited by the system, or refused.

A refusal after generation still shows why (the notes quote what the model wrote, and its
unsupported sentences are listed), so a reader can see what the model made of the passages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.answering.attribution import Attribution, UnsupportedMode, attribute
from rag.answering.prompts import PromptBook
from rag.llm.base import Usage
from rag.schemas import Answer, Citation, Hit

# How much of a refused model answer the notes quote.
QUOTED_CHARS = 300


@dataclass
class Draft:
    """What one run produced, before it is checked."""

    question: str
    llm: str
    timings: dict[str, float]
    confidence: float | None = None
    notes: list[str] = field(default_factory=list)
    fallback: bool = False
    usage: Usage | None = None
    names: tuple[str, ...] = ()  # places and bodies the question names
    declined: bool = False  # the model said in words that the passages do not answer


class AnswerBuilder:
    def __init__(self, prompts: PromptBook, unsupported: UnsupportedMode = "drop") -> None:
        self.prompts = prompts
        self.unsupported = unsupported

    def refusal(self, draft: Draft, reason: str, unsupported: list[str] | None = None) -> Answer:
        return Answer(
            question=draft.question,
            answer=self.prompts.refusal_for(draft.question),
            answerable=False,
            confidence=draft.confidence,
            unsupported_sentences=unsupported or [],
            llm=draft.llm,
            fallback=draft.fallback,
            notes=[reason, *draft.notes],
            timings_ms=draft.timings,
            tokens=_tokens(draft.usage),
        )

    def withdraw(self, answer: Answer, reason: str) -> Answer:
        """`answer` turned into a refusal for `reason`; its text stays quoted in the notes."""
        return answer.model_copy(
            update={
                "answer": self.prompts.refusal_for(answer.question),
                "answerable": False,
                "citations": [],
                "notes": [reason, *answer.notes, _quoted(answer.answer)],
            }
        )

    def finish(
        self, draft: Draft, text: str, hits: list[Hit], sources: list[str] | None = None
    ) -> Answer:
        """Check and cite every sentence, then decide answerable from what was written:
        a decline in words, or no supported sentence, is a refusal. `sources`: the text of
        each passage's article (see `attribute`)."""
        result = attribute(
            text,
            [hit.text for hit in hits],
            question=draft.question,
            names=draft.names,
            sources=sources,
            unsupported=self.unsupported,
        )
        draft.notes.extend(_notes(result, self.unsupported))
        draft.declined = result.declined
        reason = "the model found no answer in the passages" if result.declined else ""
        if not result.claims:
            reason = reason or "no sentence of the answer is supported by the passages"
        if reason:
            draft.notes.append(_quoted(text))
            return self.refusal(draft, reason, result.unsupported)
        return Answer(
            question=draft.question,
            answer=result.text,
            answerable=True,
            confidence=draft.confidence,
            citations=[Citation(**hits[n - 1].model_dump(), n=n) for n in result.cited],
            unsupported_sentences=result.unsupported,
            llm=draft.llm,
            fallback=draft.fallback,
            notes=draft.notes,
            timings_ms=draft.timings,
            tokens=_tokens(draft.usage),
        )


def _tokens(usage: Usage | None) -> dict[str, int]:
    if usage is None:
        return {}
    return {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens}


def _notes(result: Attribution, mode: UnsupportedMode) -> list[str]:
    notes = []
    if result.dropped_markers:
        notes.append(f"removed {result.dropped_markers} citation(s) to no retrieved passage")
    if result.reattributed:
        notes.append(
            f"cited by the system: {result.reattributed} sentence(s) had no or a wrong marker"
        )
    if result.unsupported:
        done = "dropped" if mode == "drop" else "kept, flagged as unsupported"
        notes.append(f"{len(result.unsupported)} sentence(s) no passage supports: {done}")
    return notes


def _quoted(text: str) -> str:
    """The note that keeps a refused answer's text for the reader."""
    return f"the answer was: {text.strip()[:QUOTED_CHARS]}"
