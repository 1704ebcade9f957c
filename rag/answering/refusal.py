"""A refusal after generation, reconsidered (RAG_LLM_REFUSAL).

Small models decline answerable questions, and write answers the support check cannot
verify word for word. "decline" (the default) keeps a decline in words, and an answer
that found nothing in the passages (it restates the question, what it adds is not there,
or it states a figure in words they do not support: grounding.py); it answers the rest
with the passages' own sentences. "evidence" lets the abstention model decide both;
"model" keeps every refusal. Measured in the README ("Answering with an LLM").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from rag.answering.abstention import Verdict
from rag.answering.extractive import ExtractiveClient
from rag.answering.grounding import adds_figure, found_answer
from rag.answering.outcome import AnswerBuilder, Draft
from rag.llm.base import GenerationRequest
from rag.schemas import Answer

RefusalMode = Literal["decline", "evidence", "model"]


class RefusalReview:
    def __init__(
        self,
        mode: RefusalMode,
        extractive: ExtractiveClient,
        outcome: AnswerBuilder,
        spelled: Callable[[str], str] = str,
    ) -> None:
        self.mode = mode
        self.extractive = extractive
        self.outcome = outcome
        # The question with the Chinese words an English one spells or glosses appended
        # (Retriever.lexical_form): a model answers an English question in those words.
        self.spelled = spelled

    def review(
        self,
        refused: Answer,
        request: GenerationRequest,
        draft: Draft,
        evidence: Verdict,
        sources: list[str],
        written: str,
    ) -> Answer:
        """`refused` (what the model `written` made of it) as it stands, or answered
        with the passages' own sentences."""
        mode = self.mode
        if mode == "model" or (mode == "decline" and draft.declined):
            return refused
        reason = self._no_answer(written, request) if mode == "decline" else None
        if reason:
            return refused.model_copy(update={"notes": [reason, *refused.notes]})
        if mode == "evidence" and not evidence.answerable:
            return refused
        why = (
            evidence.reason
            if mode == "evidence"
            else "the model answered, but not in words the passages support"
        )
        notes = [*refused.notes, f"answered from the passages' own sentences: {why}"]
        quoted = Draft(
            draft.question,
            self.extractive.name,
            draft.timings,
            evidence.confidence,
            notes=notes,
            fallback=True,
            usage=draft.usage,
            names=draft.names,
        )
        answer = self.outcome.finish(
            quoted, self.extractive.generate(request), request.passages, sources
        )
        # What the model wrote and no passage supports stays listed.
        unsupported = [*refused.unsupported_sentences, *answer.unsupported_sentences]
        return answer.model_copy(update={"unsupported_sentences": unsupported})

    def _no_answer(self, written: str, request: GenerationRequest) -> str | None:
        """Why `written` (the model's answer, no sentence of it supported) answers
        nothing, or None when it may answer (grounding.py)."""
        question = self.spelled(request.question)
        if found_answer(written, question, [hit.text for hit in request.passages]) is False:
            return (
                "the model found no answer in the passages: it restated the question, "
                "or what it added is not in them"
            )
        if adds_figure(written, question):
            return (
                "the model found no answer in the passages: it put a figure in words they "
                "do not support (their figure for something else, or none of theirs)"
            )
        return None
