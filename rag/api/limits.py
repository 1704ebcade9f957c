"""Admission: bounded queues per kind of work, and a cap on request bodies.

Answers and searches run in worker threads on a few cores; without a bound, a burst of
expensive requests holds every thread and the GIL, and an ordinary question waits behind
all of them. So each kind of work has a lane: at most `active` run at once, at most
`queued` wait (in arrival order), and the next one gets 503 with a `Retry-After`
estimated from how long the lane's requests have been taking. Long requests (more than
`RAG_LONG_REQUEST_CHARS` of question and follow-up text) have their own narrow lane, so
they never queue ahead of ordinary questions. Corpus changes hold no lane: they are jobs
(rag/jobs), run by one thread of their own behind a bounded queue.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import chain
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.api.errors import error_body
from rag.config import Settings
from rag.errors import OverloadedError

T = TypeVar("T")


def lanes_of(request: Request) -> Lanes:
    """The app's lanes (made by create_app)."""
    return request.app.state.lanes


class Lane:
    """At most `active` requests at once and `queued` waiting; beyond, OverloadedError."""

    def __init__(self, name: str, active: int, queued: int) -> None:
        self.name = name
        self.active = active
        self.queued = queued
        self.running = 0
        self.waiting = 0
        self.seconds = 1.0  # moving average of a request's time in the lane
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop

    async def acquire(self) -> Callable[[], None]:
        """Wait for a slot; returns its release (idempotent). Raises when the queue is full."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.active)
        if self.running >= self.active and self.waiting >= self.queued:
            raise OverloadedError(
                f"busy: {self.running} {self.name} running and {self.waiting} waiting; retry later",
                retry_after=self.retry_after(),
            )
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        started = time.monotonic()
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self.running -= 1
            self.seconds = 0.8 * self.seconds + 0.2 * (time.monotonic() - started)
            assert self._slots is not None
            self._slots.release()

        return release

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        release = await self.acquire()
        try:
            yield
        finally:
            release()

    def retry_after(self) -> int:
        """Seconds until the queue has likely moved on by one full round."""
        return max(1, math.ceil(self.seconds * (self.waiting + 1) / self.active))


@dataclass
class Lanes:
    short: Lane
    long: Lane
    long_chars: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Lanes:
        return cls(
            short=Lane("requests", settings.max_active, settings.max_queued),
            long=Lane("long requests", settings.max_active_long, settings.max_queued_long),
            long_chars=settings.long_request_chars,
        )

    def for_chars(self, chars: int) -> Lane:
        """The lane of a request that makes the service read `chars` characters."""
        return self.long if chars > self.long_chars else self.short


async def started_in(lane: Lane, events: Iterator[T]) -> tuple[Iterator[T], Callable[[], None]]:
    """Run a blocking event stream up to its first event holding a `lane` slot, so errors
    before any output (a bad follow-up, an unknown llm) still get a status. Returns the
    whole stream and the slot's release, which the caller calls when the stream ends."""
    release = await lane.acquire()
    try:
        first = await run_in_threadpool(next, events, None)
    except BaseException:
        release()
        raise
    return (chain([first], events) if first is not None else events), release


async def released_after(
    chunks: AsyncIterator[str | bytes], release: Callable[[], None]
) -> AsyncIterator[str | bytes]:
    """A streamed body that gives its lane slot back when it ends or is abandoned."""
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        release()


class BodyLimitMiddleware:
    """Refuse (413) a request body over `limit` bytes, before the app reads it whole.

    `/v1/documents` is left to its own limit (RAG_MAX_UPLOAD_BYTES).
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def message(self) -> str:
        return f"the request body is over {self.limit} bytes (RAG_MAX_BODY_BYTES)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/v1/documents"):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            body = error_body(Request(scope), 413, self.message())
            await JSONResponse(body, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                # FastAPI re-raises Starlette's HTTPException from body reading: a 413.
                raise HTTPException(413, self.message())
            return message

        await self.app(scope, counted, send)
