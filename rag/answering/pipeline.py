"""The answer pipeline: follow-up -> retrieve -> gate on evidence -> prompt -> LLM -> check.

The extractive answerer is gated by the abstention model; a generative client only when
retrieval is clearly off-topic (gate.py), and then refuses afterwards if it declines in
words or no sentence it wrote is supported (refusal.py), or, asked apart, judges that the
passages its answer cites do not answer the question (confirmation.py). A question of
several parts is quoted rather than put to a model (RAG_LLM_QUOTE). Either way every
sentence is checked against the passages and cited by the system (attribution.py).

`answer()` returns the whole result; `stream()` yields the same result as events
(passages first, then answer pieces, then the checked answer) for SSE clients. With a
`history`, a follow-up question is first made self-contained (see followup.py): the
Answer's `question` is that standalone question.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from rag.answering.abstention import AbstentionPolicy, Verdict
from rag.answering.asks import several_asks
from rag.answering.confirmation import Confirmation
from rag.answering.context import estimate_tokens, excerpt_passages
from rag.answering.evidence import EvidenceScorer, is_comparative
from rag.answering.extractive import (
    Candidate,
    ExtractiveClient,
    SentenceFeatures,
    extractive_factory,
)
from rag.answering.followup import standalone_question
from rag.answering.gate import OffTopicGate
from rag.answering.history import bounded_history
from rag.answering.outcome import AnswerBuilder, Draft
from rag.answering.passages import question_passages
from rag.answering.prompts import PromptBook
from rag.answering.refusal import RefusalReview
from rag.config import Settings
from rag.errors import LLMError
from rag.llm.base import GenerationRequest, LLMClient, YesNoJudge
from rag.llm.registry import ClientRegistry, Factory, openai_factory
from rag.query import Filters, check_query
from rag.retrieval import Retriever
from rag.schemas import Answer, ChatMessage, Hit

# The clients the service ships; `rag.llm_clients` plugins and `register()` add more.
BUILTIN_CLIENTS: dict[str, Factory] = {"extractive": extractive_factory, "openai": openai_factory}


@dataclass(frozen=True)
class Evidence:
    sentences: list[SentenceFeatures]
    ranked: list[Candidate]
    chosen: list[Candidate]


@dataclass(frozen=True)
class AnswerEvent:
    """One server-sent event: `passages`, a `delta` of answer text, or the final `answer`."""

    type: Literal["passages", "delta", "answer"]
    data: Any


class Answerer:
    def __init__(
        self,
        settings: Settings,
        retriever: Retriever,
        *,
        prompts: PromptBook | None = None,
        registry: ClientRegistry | None = None,
        gate: OffTopicGate | None = None,
    ) -> None:
        self.settings = settings
        self.retriever = retriever
        self.prompts = prompts or PromptBook.load(settings.prompts_dir)
        self.scorer = EvidenceScorer(retriever)
        self.policy = AbstentionPolicy(self.scorer)
        self.gate = gate or OffTopicGate.load()
        self.outcome = AnswerBuilder(self.prompts, settings.unsupported)
        # Picks the evidence sentences abstention judges, and answers the fallback,
        # whichever client is chosen to answer.
        self.extractive = ExtractiveClient(self.scorer)
        self.review = RefusalReview(
            settings.llm_refusal, self.extractive, self.outcome, retriever.lexical_form
        )
        self.confirmation = Confirmation(self.prompts, self.outcome, settings.llm_confirm)
        self.registry = registry or ClientRegistry(BUILTIN_CLIENTS)
        self._clients: dict[str, LLMClient] = {}
        self._lock = threading.Lock()

    # -- set-up --------------------------------------------------------------------------
    def client(self, name: str | None) -> LLMClient:
        """The named client, created once and reused (it may hold a connection pool)."""
        name = name or self.settings.llm
        with self._lock:
            if name not in self._clients:
                self._clients[name] = self.registry.create(name, self.settings, scorer=self.scorer)
            return self._clients[name]

    def source(self, hit: Hit) -> str:
        """The passage's article (title, section, text): where the names it stands for are."""
        document = self.retriever.bundle.store.document(hit.doc_id)
        body = document.text if document is not None else hit.text
        return f"{hit.title} {hit.section}\n{body}"

    def quotes(self, question: str) -> bool:
        """Is this a question of several parts that a model is not asked (RAG_LLM_QUOTE)?"""
        mode = self.settings.llm_quote
        if mode == "none":
            return False
        if is_comparative(question) and len(self.scorer.places(question)) >= 2:
            return True
        return mode == "parts" and several_asks(question)

    def check_question(self, question: str) -> str:
        return check_query(question, self.settings.max_question_chars, "question")

    # -- steps ---------------------------------------------------------------------------
    def retrieve(self, question: str, k: int, filters: Filters | None) -> list[Hit]:
        """Top-k passages; a comparison gets the best of each place (passages.py)."""
        return question_passages(
            self.retriever,
            self.scorer,
            question,
            k,
            filters,
            self.settings.max_compared_places,
        )

    def standalone(self, question: str, history: list[ChatMessage], client: LLMClient) -> str:
        """A follow-up made retrievable on its own: `client` rewrites it, or, being the
        extractive answerer (no model), the names of earlier questions are carried over."""
        return standalone_question(
            question,
            history,
            model=None if isinstance(client, ExtractiveClient) else client,
            prompts=self.prompts,
            tokenizer=self.retriever.bundle.lexical.tokenizer,
            max_chars=self.settings.max_question_chars,
            window_chars=self.settings.followup_chars,
        )

    def evidence(self, question: str, hits: list[Hit]) -> Evidence:
        """The passages' sentences, best first, and those an extractive answer quotes:
        what abstention reads (also what evals/fit_abstention.py fits on)."""
        sentences = self.extractive.features(question, hits)
        ranked = self.extractive.rank(sentences)
        return Evidence(sentences, ranked, self.extractive.choose(question, sentences, ranked))

    def judge(self, question: str, hits: list[Hit]) -> tuple[Verdict, list[Candidate]]:
        """Is there evidence for an answer in these passages? Also the passages'
        sentences, best first."""
        found = self.evidence(question, hits)
        verdict = self.policy.judge(question, hits, found.sentences, found.ranked, found.chosen)
        return verdict, found.ranked

    def messages(
        self,
        question: str,
        hits: list[Hit],
        ranked: list[Candidate],
        history: list[ChatMessage],
        client: LLMClient,
    ) -> list[ChatMessage]:
        """The chat prompt; passages are cut so that what follows the system prompt (the
        same for every question: a server's prompt cache reads it once) fits the
        RAG_PROMPT_TOKENS budget."""
        if isinstance(client, ExtractiveClient):
            return []  # reads `passages`, not a prompt
        budget = self.settings.prompt_tokens
        if budget:
            fixed = self.prompts.answer_messages(question, [], history)
            read = sum(estimate_tokens(m.content) for m in fixed if m.role != "system")
            budget = max(1, budget - read)
        excerpts = excerpt_passages(hits, ranked, budget)
        return self.prompts.answer_messages(question, excerpts, history)

    # -- public --------------------------------------------------------------------------
    def answer(
        self,
        question: str,
        *,
        k: int | None = None,
        llm: str | None = None,
        history: list[ChatMessage] | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        events = self._run(question, k, llm, history, filters, streaming=False)
        return [event.data for event in events if event.type == "answer"][0]

    def stream(
        self,
        question: str,
        *,
        k: int | None = None,
        llm: str | None = None,
        history: list[ChatMessage] | None = None,
        filters: Filters | None = None,
    ) -> Iterator[AnswerEvent]:
        return self._run(question, k, llm, history, filters, streaming=True)

    def _run(
        self,
        question: str,
        k: int | None,
        llm: str | None,
        history: list[ChatMessage] | None,
        filters: Filters | None,
        *,
        streaming: bool,
    ) -> Iterator[AnswerEvent]:
        """The pipeline; `streaming` picks the client's streaming call over `generate`."""
        question = self.check_question(question)
        client = self.client(llm)  # unknown names fail before any work
        # System turns dropped (our system prompt governs); length bounded (history.py).
        history = bounded_history(
            history,
            max_turn_chars=self.settings.max_turn_chars,
            max_history_chars=self.settings.max_history_chars,
        )
        if history:
            question = self.check_question(self.standalone(question, history, client))
        started = time.perf_counter()  # timings leave the rewrite out
        hits = self.retrieve(question, k or self.settings.top_k, filters)
        timings = {"retrieve": _ms(started)}
        yield AnswerEvent("passages", hits)

        evidence, ranked = self.judge(question, hits)
        generative = not isinstance(client, ExtractiveClient)
        verdict = self.gate.judge(evidence) if generative else evidence
        draft = Draft(question, client.name, timings, verdict.confidence)
        draft.names = tuple(self.scorer.places(question))
        if not verdict.answerable:
            timings.update(generate=0.0, total=_ms(started))
            answer = self.outcome.refusal(draft, verdict.reason)
            yield AnswerEvent("delta", answer.answer)
            yield AnswerEvent("answer", answer)
            return

        if generative and self.quotes(question):
            # Measured: the small model answers one part of two (README, "Answering…").
            client, generative = self.extractive, False
            draft.llm = client.name
            draft.notes.append(
                "a question of several parts: answered with the passages' own sentences "
                f"(RAG_LLM_QUOTE={self.settings.llm_quote})"
            )
        generating = time.perf_counter()
        request = GenerationRequest(
            question=question,
            passages=hits,
            messages=self.messages(question, hits, ranked, history, client),
        )
        pieces: list[str] = []
        draft.notes.append(verdict.reason)
        try:
            for piece in client.stream(request) if streaming else [client.generate(request)]:
                pieces.append(piece)
                yield AnswerEvent("delta", piece)
            if not isinstance(client, ExtractiveClient):
                draft.usage = request.usage
        except LLMError as exc:
            if self.settings.llm_fallback != "extractive" or isinstance(client, ExtractiveClient):
                raise
            draft.notes.append(f"{exc}; answered by the extractive fallback")
            draft.llm, draft.fallback = self.extractive.name, True
            pieces = []
            for piece in self.extractive.stream(request):
                pieces.append(piece)
                yield AnswerEvent("delta", piece)
        timings["generate"] = _ms(generating)
        timings["total"] = _ms(started)
        sources = [self.source(hit) for hit in hits]
        written = "".join(pieces)
        answer = self.outcome.finish(draft, written, hits, sources)
        if generative and not draft.fallback and not answer.answerable:
            answer = self.review.review(answer, request, draft, evidence, sources, written)
        if generative and not draft.fallback and isinstance(client, YesNoJudge):
            answer = self.confirmation.check(answer, client)
        yield AnswerEvent("answer", answer)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
