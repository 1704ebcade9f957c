"""Asking the model whether the passages an answer cites answer the question (RAG_LLM_CONFIRM).

Given near-miss passages (the place and topic asked about, not the detail), a small model
answers anyway: with a figure the passages give for something else, or a sentence of them
that the support check passes. Asked apart from its answer, with only the cited passages,
whether they answer the question, its probability of "yes" tells those answers from the
rest (dev AUC 0.89 with the 1.5B model). Off by default: at the threshold fit on dev,
test's answerable refused rose from 0.037 to 0.119, and latency doubled on 2 cores
(README, "Answering with an LLM"). A withdrawn answer stays quoted in the notes.
"""

from __future__ import annotations

import time

from rag.answering.outcome import AnswerBuilder
from rag.answering.prompts import PromptBook
from rag.errors import LLMError
from rag.llm.base import YesNoJudge
from rag.schemas import Answer


class Confirmation:
    def __init__(self, prompts: PromptBook, outcome: AnswerBuilder, threshold: float) -> None:
        self.prompts = prompts
        self.outcome = outcome
        self.threshold = threshold  # 0: no check

    def check(self, answer: Answer, model: YesNoJudge) -> Answer:
        """`answer` with the model's verdict noted, or withdrawn when it is below the
        threshold. A failed call or a reply that is neither yes nor no keeps the answer."""
        if not self.threshold or not answer.answerable or not answer.citations:
            return answer
        cited = [(citation.n, citation) for citation in answer.citations]
        messages = self.prompts.check_messages(answer.question, cited)
        started = time.perf_counter()
        try:
            chance = model.yes_probability(messages)
        except LLMError as exc:
            return _timed(_noted(answer, f"not confirmed ({exc}): kept"), started)
        if chance is None:
            note = "not confirmed: the model's reply to the check was neither yes nor no; kept"
            return _timed(_noted(answer, note), started)
        if chance < self.threshold:
            reason = (
                "the model judged that the cited passages do not answer the question "
                f"(P(yes) {chance:.2f} < RAG_LLM_CONFIRM {self.threshold:g})"
            )
            return _timed(self.outcome.withdraw(answer, reason), started)
        note = f"the model confirms that the cited passages answer it (P(yes) {chance:.2f})"
        return _timed(_noted(answer, note), started)


def _noted(answer: Answer, note: str) -> Answer:
    return answer.model_copy(update={"notes": [*answer.notes, note]})


def _timed(answer: Answer, started: float) -> Answer:
    """The check's time added to the answer's timings (`confirm`, and the `total`)."""
    spent = round((time.perf_counter() - started) * 1000, 2)
    timings = {**answer.timings_ms, "confirm": spent}
    timings["total"] = round(timings.get("total", 0.0) + spent, 2)
    return answer.model_copy(update={"timings_ms": timings})
