"""OpenAI-compatible `/v1/chat/completions` and `/v1/models`, for chat UIs and SDKs.

The last user message is the question; earlier turns make a follow-up self-contained
(see rag.answering.followup). `model` picks the LLM client when it names one; any other
name (chat UIs send their own) gets the default client. Replies carry `citations` and
`answerable` beside the OpenAI fields, which clients that do not know them ignore.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.datastructures import State

from rag.answering.history import check_turns, followup_chars
from rag.answering.pipeline import AnswerEvent
from rag.api.deps import ServicesDep
from rag.api.limits import lanes_of, released_after, started_in
from rag.api.schemas import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChunkChoice,
    ChunkDelta,
    ModelCard,
    ModelList,
)
from rag.api.sse import SSE_HEADERS, StreamError, guarded, sse_event
from rag.errors import InvalidRequestError

router = APIRouter(prefix="/v1", tags=["openai-compatible"])


@router.get("/models")
def list_models(services: ServicesDep) -> ModelList:
    """The LLM clients, as models a chat UI can pick from."""
    return ModelList(data=[ModelCard(id=name) for name in services.answerer.registry.names()])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, services: ServicesDep
) -> ChatCompletion | StreamingResponse:
    answerer = services.answerer
    messages = [m for m in (message.to_chat() for message in body.messages) if m is not None]
    if not messages or messages[-1].role != "user":
        raise InvalidRequestError("the last message must be the user's question")
    question = answerer.check_question(messages[-1].content)
    history = messages[:-1]  # the answerer resolves a follow-up and drops system turns
    llm = body.model if body.model in answerer.registry.names() else None
    model = body.model or answerer.client(llm).name
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    check_turns(history, services.settings.max_turn_chars)
    chars = len(question) + followup_chars(history, services.settings.followup_chars)
    lane = lanes_of(request).for_chars(chars)

    if not body.stream:
        async with lane.slot():
            answer = await run_in_threadpool(answerer.answer, question, llm=llm, history=history)
        request.state.timings_ms = answer.timings_ms
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=model,
            choices=[ChatChoice(message=AssistantMessage(content=answer.answer))],
            citations=answer.citations,
            answerable=answer.answerable,
            question=answer.question,
        )

    events = answerer.stream(question, llm=llm, history=history)
    # The follow-up rewrite and retrieval run here: errors before any output get a status.
    # The lane slot is held until the stream ends.
    rest, release = await started_in(lane, events)
    template = ChatCompletionChunk(id=completion_id, created=created, model=model, choices=[])
    body_chunks = iterate_in_threadpool(_chunks(rest, template, request.state))
    return StreamingResponse(
        released_after(body_chunks, release), media_type="text/event-stream", headers=SSE_HEADERS
    )


def _chunks(
    events: Iterator[AnswerEvent], template: ChatCompletionChunk, state: State
) -> Iterator[str]:
    """OpenAI's stream: a role chunk, content chunks, a final chunk, `[DONE]` (blocking)."""

    def chunk(delta: ChunkDelta, finish: bool = False, **extra: object) -> str:
        choice = ChunkChoice(delta=delta, finish_reason="stop" if finish else None)
        return sse_event(template.model_copy(update={"choices": [choice], **extra}).sse_data())

    yield chunk(ChunkDelta(role="assistant", content=""))
    for event in guarded(events, state):
        if isinstance(event, StreamError):
            # OpenAI's in-stream error shape: SDKs raise it as an APIError.
            error = {"message": event.detail, "type": "server_error", "code": event.status}
            yield sse_event({"error": error})
            return
        if event.type == "delta" and event.data:
            yield chunk(ChunkDelta(content=event.data))
        elif event.type == "answer":
            answer = event.data
            state.timings_ms = answer.timings_ms
            yield chunk(
                ChunkDelta(),
                finish=True,
                answer=answer.answer,
                citations=answer.citations,
                unsupported_sentences=answer.unsupported_sentences,
                answerable=answer.answerable,
                question=answer.question,
            )
    yield sse_event("[DONE]")
