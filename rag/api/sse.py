"""Server-sent events from the answerer's blocking event stream.

The status line is sent before the first piece of answer, so a failure after that point
cannot change it: `guarded` turns it into a final error item the route reports in-band.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from rag.api.errors import status_for
from rag.errors import RagError

logger = logging.getLogger("rag.api")

# Proxies (nginx) buffer responses unless told not to; a buffered stream is no stream.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

T = TypeVar("T")


@dataclass(frozen=True)
class StreamError:
    detail: str
    status: int


def sse_event(data: Any, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def guarded(events: Iterator[T], state: Any) -> Iterator[T | StreamError]:
    """The events, then a StreamError instead of an exception (noted on `state` for the log)."""
    try:
        yield from events
    except RagError as exc:
        state.stream_error = status_for(exc)
        yield StreamError(str(exc), status_for(exc))
    except Exception:
        logger.exception("answer stream failed")
        state.stream_error = 500
        yield StreamError("internal server error", 500)
