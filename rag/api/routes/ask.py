"""`POST /v1/ask`: a cited answer as JSON, or as server-sent events with `stream: true`."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.datastructures import State

from rag.answering.history import check_turns, followup_chars
from rag.answering.pipeline import AnswerEvent
from rag.api.deps import ServicesDep
from rag.api.limits import lanes_of, released_after, started_in
from rag.api.schemas import AskRequest
from rag.api.sse import SSE_HEADERS, StreamError, guarded, sse_event
from rag.schemas import Answer

router = APIRouter(prefix="/v1", tags=["answers"])

STREAM_DOC = (
    "With `stream: true`, `text/event-stream`: `passages` ({passages: [hit...]}), then "
    "`delta` ({text}) per piece, then `answer` (the Answer); a backend failure after the "
    "passages ends the stream with `error` ({detail, status})."
)


@router.post(
    "/ask",
    response_model=Answer,
    description=STREAM_DOC,
    responses={
        200: {"content": {"text/event-stream": {}}},
        422: {"description": "invalid question, k, llm or filters"},
        503: {"description": "busy: retry after the Retry-After seconds"},
        502: {"description": "the LLM backend failed"},
        504: {"description": "the LLM backend timed out"},
    },
)
async def ask(
    body: AskRequest, request: Request, services: ServicesDep
) -> Answer | StreamingResponse:
    answerer = services.answerer
    question = answerer.check_question(body.question)  # a bad question is a 4xx, never a stream
    # The answerer makes a follow-up self-contained and drops the callers' system turns.
    options = {"k": body.k, "llm": body.llm, "history": body.history, "filters": body.filters}
    check_turns(body.history, services.settings.max_turn_chars)
    chars = len(question) + followup_chars(body.history, services.settings.followup_chars)
    lane = lanes_of(request).for_chars(chars)
    if not body.stream:
        async with lane.slot():
            answer = await run_in_threadpool(answerer.answer, question, **options)
        request.state.timings_ms = answer.timings_ms
        return answer
    events = answerer.stream(question, **options)
    # The follow-up rewrite and retrieval run before the first event: their errors (unknown
    # llm...) still get a status. The lane slot is held until the stream ends.
    rest, release = await started_in(lane, events)
    body_chunks = iterate_in_threadpool(_ask_events(rest, request.state))
    return StreamingResponse(
        released_after(body_chunks, release), media_type="text/event-stream", headers=SSE_HEADERS
    )


def _ask_events(events: Iterator[AnswerEvent], state: State) -> Iterator[str]:
    """Blocking: Starlette iterates it in a worker thread."""
    for event in guarded(events, state):
        if isinstance(event, StreamError):
            yield sse_event({"detail": event.detail, "status": event.status}, "error")
        elif event.type == "passages":
            yield sse_event(
                {"passages": [h.model_dump(mode="json") for h in event.data]}, "passages"
            )
        elif event.type == "delta":
            yield sse_event({"text": event.data}, "delta")
        else:
            state.timings_ms = event.data.timings_ms
            yield sse_event(event.data.model_dump(mode="json"), "answer")
