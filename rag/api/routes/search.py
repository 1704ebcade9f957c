"""`GET /v1/search`: ranked passages, the same JSON as `rag search --json`."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from rag.api.deps import ServicesDep
from rag.api.errors import readable
from rag.api.limits import lanes_of
from rag.errors import InvalidRequestError
from rag.query import Filters, SearchMode, check_query
from rag.schemas import SearchResult

router = APIRouter(prefix="/v1", tags=["search"])


@router.get(
    "/search",
    responses={
        422: {"description": "empty query, bad k or mode"},
        503: {"description": "busy: retry after the Retry-After seconds"},
    },
)
async def search(
    request: Request,
    services: ServicesDep,
    q: Annotated[str, Query(description="the question or keywords")],
    k: Annotated[int, Query(ge=1, le=50, description="passages to return")] = 5,
    mode: SearchMode = "hybrid",
    source: Annotated[list[str] | None, Query(description="only these source files")] = None,
    doc_id: Annotated[list[str] | None, Query(description="only these documents")] = None,
    place: Annotated[list[str] | None, Query(description="only articles about this place")] = None,
    since: Annotated[str | None, Query(description="dated on/after YYYY[-MM[-DD]]")] = None,
    until: Annotated[str | None, Query(description="dated on/before YYYY[-MM[-DD]]")] = None,
) -> SearchResult:
    q = check_query(q, services.settings.max_question_chars)
    try:
        filters = Filters(source=source, doc_id=doc_id, place=place, since=since, until=until)
    except ValidationError as exc:
        raise InvalidRequestError(readable(list(exc.errors()))) from exc
    if filters.is_empty():
        filters = None
    started = time.perf_counter()
    async with lanes_of(request).for_chars(len(q)).slot():
        hits = await run_in_threadpool(services.retriever.search, q, k, mode, filters)
    request.state.timings_ms = {"retrieve": round((time.perf_counter() - started) * 1000, 2)}
    return SearchResult(query=q, mode=mode, hits=hits)
