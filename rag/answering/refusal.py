"""A refusal after generation, reconsidered (RAG_LLM_REFUSAL).

Small models decline answerable questions, and write answers the support check cannot
verify word for word. "decline" (the default) keeps only a decline in words and answers
the rest with the passages' own sentences; "evidence" lets the abstention model decide
both; "model" keeps every refusal. Measured in the README ("Answering with an LLM").
"""

from __future__ import annotations

from typing import Literal

from rag.answering.abstention import Verdict
from rag.answering.extractive import ExtractiveClient
from rag.answering.outcome import AnswerBuilder, Draft
from rag.llm.base import GenerationRequest
from rag.schemas import Answer

RefusalMode = Literal["decline", "evidence", "model"]


class RefusalReview:
    def __init__(
        self, mode: RefusalMode, extractive: ExtractiveClient, outcome: AnswerBuilder
    ) -> None:
        self.mode = mode
        self.extractive = extractive
        self.outcome = outcome

    def review(
        self,
        refused: Answer,
        request: GenerationRequest,
        draft: Draft,
        evidence: Verdict,
        sources: list[str],
    ) -> Answer:
        """`refused` as it stands, or answered with the passages' own sentences."""
        mode = self.mode
        if mode == "model" or (mode == "decline" and draft.declined):
            return refused
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
