"""MCP tools over the running services: `search`, `ask`, `get_document`, `list_documents`.

Agents and IDE assistants reach the service through the Model Context Protocol (the
official `mcp` SDK). `rag mcp` serves these tools over stdio; the API serves them as
streamable HTTP at `/mcp`, behind the same API key (`McpAccessMiddleware`). Every call
takes the services of the moment from `current()`, so no second index is loaded and a
newly published generation is used as soon as the API follows it. Over HTTP, answers and
searches wait in the same admission lanes as `/v1/ask` and `/v1/search`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.api.deps import KEY_MESSAGE, key_matches
from rag.api.limits import Lanes
from rag.api.schemas import DocumentResponse, DocumentsResponse
from rag.documents import list_documents as summaries
from rag.errors import RagError
from rag.query import SearchMode, check_query
from rag.schemas import Answer, SearchResult
from rag.services import Services

MCP_PATH = "/mcp"
INSTRUCTIONS = (
    "Cited answers over Chinese news reports on local governance. Use `ask` for a question "
    "(the answer cites passages as [n]; `answerable` is false when the corpus does not say), "
    "`search` for ranked passages, `list_documents` and `get_document` to read an article: "
    "a citation's start:end indexes into the document's text."
)


def build_mcp(current: Callable[[], Services], lanes: Lanes | None = None) -> MCPServer:
    """The MCP server over `current()`'s services (`lanes`: admission, over HTTP)."""
    # WARNING: the SDK configures the root logger with this level when none is set up.
    server = MCPServer("rag", instructions=INSTRUCTIONS, log_level="WARNING")

    @contextlib.asynccontextmanager
    async def admitted(chars: int) -> AsyncIterator[None]:
        """Inside the request lanes (when given); project errors become tool errors."""
        try:
            if lanes is None:
                yield
            else:
                async with lanes.for_chars(chars).slot():
                    yield
        except RagError as exc:
            raise ToolError(str(exc)) from exc

    @server.tool()
    async def search(query: str, k: int = 5, mode: SearchMode = "hybrid") -> SearchResult:
        """Ranked passages for a question or keywords (hybrid, dense or bm25), each with
        its document id, source file and character offsets into the document's text."""
        services = current()
        async with admitted(len(query)):
            query = check_query(query, services.settings.max_question_chars)
            if not 1 <= k <= 50:
                raise ToolError("k must be between 1 and 50")
            hits = await run_in_threadpool(services.retriever.search, query, k, mode, None)
        return SearchResult(query=query, mode=mode, hits=hits)

    @server.tool()
    async def ask(question: str, k: int = 5) -> Answer:
        """A cited answer: `answer` marks its sources [n]; each citation gives the source
        file, document id, offsets (start:end) and text; `answerable` is false and the
        answer a refusal when the corpus does not answer the question."""
        services = current()
        async with admitted(len(question)):
            question = services.answerer.check_question(question)
            if not 1 <= k <= 50:
                raise ToolError("k must be between 1 and 50")
            return await run_in_threadpool(services.answerer.answer, question, k=k)

    @server.tool()
    def get_document(doc_id: str) -> DocumentResponse:
        """One whole article (citation offsets index into its `text`)."""
        document = current().bundle.store.document(doc_id)
        if document is None:
            raise ToolError(f"no document with id '{doc_id}': see list_documents")
        return DocumentResponse.of(document)

    @server.tool()
    def list_documents() -> DocumentsResponse:
        """The indexed articles: id, source file, title, place, date, sections, size."""
        return DocumentsResponse(documents=summaries(current().bundle.store))

    return server


class McpAccessMiddleware:
    """With `RAG_API_KEY` set, `/mcp` needs `Authorization: Bearer <key>` like `/v1/*`
    (the MCP app is mounted beside the routers, out of reach of their dependencies)."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_mcp(scope["path"]) or not self.key:
            await self.app(scope, receive, send)
            return
        if key_matches(self.key, Headers(scope=scope).get("authorization", "")):
            await self.app(scope, receive, send)
            return
        body: dict[str, Any] = {"detail": KEY_MESSAGE}
        response = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)


def _is_mcp(path: str) -> bool:
    return path == MCP_PATH or path.startswith(MCP_PATH + "/")
