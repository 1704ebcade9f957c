"""The FastAPI app factory: state on `app.state`, one request-context middleware, routers.

`create_app()` with no arguments reads settings from `RAG_*` variables and loads the
services at start-up, so `uvicorn --factory rag.api.app:create_app` (and each worker of
`rag serve --workers N`) works on its own. Tests pass ready `services` to skip loading.

The lifespan also starts the job runner (corpus changes in the background, rag/jobs),
resuming the jobs a crash left, and the MCP session manager of `/mcp` (rag/api/mcp.py).

Shutdown is bounded: uvicorn cancels what is still running after its graceful timeout
(`RAG_SHUTDOWN_SECONDS` with `rag serve`), and the job runner stops after its current
job, waited for as long again; but a thread in the middle of tagging, embedding or a
build cannot be interrupted, and Python waits for it before exiting. `exit_watch` leaves
without it instead (see `watch_exit`); an unfinished job runs again at the next start.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.api.deps import require_api_key
from rag.api.errors import install_error_handlers
from rag.api.limits import BodyLimitMiddleware, Lanes
from rag.api.mcp import MCP_PATH, McpAccessMiddleware, build_mcp
from rag.api.openapi import install_schema
from rag.api.routes import ask, chat, documents, health, jobs, search, web
from rag.config import Settings
from rag.errors import IndexStateError
from rag.services import IndexFollower, Services, start_jobs

logger = logging.getLogger("rag.api")

# A client's id is reused only if it cannot smuggle anything into a log line or header.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def create_app(
    settings: Settings | None = None,
    services: Services | None = None,
    *,
    exit_watch: bool | None = None,
) -> FastAPI:
    """The API over `services`, or over services loaded (index built if needed) at start-up.

    `settings` defaults to those of `services`; the API key is read from `settings`.
    `exit_watch` (default: when the services are loaded here, i.e. a server process of its
    own) makes the process exit after shutdown even if a request thread is still busy.
    """
    watch = services is None if exit_watch is None else exit_watch
    settings = settings or (services.settings if services else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded_here = app.state.services is None
        if loaded_here:
            # Blocking (model load, maybe an index build): keep the event loop free.
            app.state.services = await run_in_threadpool(Services.start, settings)
        follower: IndexFollower = app.state.index_follower
        runner = await run_in_threadpool(
            start_jobs, app.state.services, lambda: follower.reload_now(app.state)
        )
        app.state.jobs = runner
        try:
            async with mcp.session_manager.run():
                yield
        finally:
            app.state.jobs = None
            await run_in_threadpool(runner.close, settings.shutdown_seconds)
        if watch:
            watch_exit(EXIT_GRACE_SECONDS)
        if loaded_here:
            app.state.services = None

    app = FastAPI(
        title="rag",
        summary="Cited answers over Chinese news on local governance.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services
    # Follows index/CURRENT so corpus changes made elsewhere are served (rag.services).
    app.state.index_follower = IndexFollower(settings.index_reload_seconds)
    app.state.lanes = Lanes.from_settings(settings)
    app.state.jobs = None  # the lifespan starts the runner

    def current() -> Services:
        if app.state.services is None:
            raise IndexStateError("the service is starting: the index is not loaded yet")
        return app.state.index_follower.current(app.state)

    mcp = build_mcp(current, app.state.lanes)
    # Stateless: any worker of `rag serve --workers N` can answer any MCP request.
    mcp_app = mcp.streamable_http_app(
        streamable_http_path=MCP_PATH, stateless_http=True, host=settings.host
    )
    app.add_middleware(McpAccessMiddleware, key=settings.api_key)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(web.router)  # the page is open; it sends the key to /v1/*
    protected = [Depends(require_api_key)]
    for module in (ask, search, documents, jobs, chat):
        app.include_router(module.router, dependencies=protected)
    app.router.routes.extend(mcp_app.routes)  # /mcp, behind McpAccessMiddleware
    install_schema(app)
    return app


# After the server has stopped, how long the interpreter may wait for request threads.
EXIT_GRACE_SECONDS = 1.0


def watch_exit(grace: float) -> None:
    """Once the main thread has ended (the interpreter now waits for non-daemon threads),
    give request threads `grace` seconds, then exit without them.

    What such a thread was doing is lost as with kill -9, and recovered the same way: a
    corpus change it left half-done is rolled back (or kept, if its index generation went
    live) by the next writer, which `rag serve` is on its next start-up.
    """

    def watch() -> None:
        main = threading.main_thread()
        main.join()
        time.sleep(grace)
        busy = [t.name for t in threading.enumerate() if not t.daemon and t is not main]
        if busy:
            logger.error("exiting with %d request thread(s) still busy: %s", len(busy), busy)
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os._exit(0)

    threading.Thread(target=watch, name="rag-exit-watch", daemon=True).start()


class RequestContextMiddleware:
    """A request id on every response, and one log line per request when it has finished.

    Pure ASGI rather than BaseHTTPMiddleware: the line is written after a streamed body
    ends, so it carries the timings the route recorded on `request.state` while streaming.
    Headers are never logged (they hold the API key), nor the query string (the question).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error (request_id=%s)", request_id)
            if not response_started:
                response = JSONResponse({"detail": "internal server error"}, status_code=500)
                await response(scope, receive, send_with_id)
        finally:
            self.log(scope, state, status, started)

    @staticmethod
    def log(scope: Scope, state: dict, status: int, started: float) -> None:
        fields: dict[str, object] = {
            "request_id": state.get("request_id"),
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }
        for step, value in (state.get("timings_ms") or {}).items():
            if step in ("retrieve", "generate"):
                fields[f"{step}_ms"] = value
        if state.get("stream_error"):
            fields["stream_error"] = state["stream_error"]
        logger.info(" ".join(f"{k}={v}" for k, v in fields.items()), extra={"http": fields})
