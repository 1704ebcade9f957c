"""The MCP tools with the official SDK's own client, over both transports: stdio
(`python -m rag.cli mcp` on a private index copy) and streamable HTTP at `/mcp` of a real
uvicorn server, behind its API key."""

from __future__ import annotations

import asyncio
import sys

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from evals.harness import server_env
from tests.api_server import start_server

KEY = "mcp-key-0123456789"
QUESTION = "北塔区村党组织书记的待遇提高了多少?"
TOOLS = {"search", "ask", "get_document", "list_documents"}


async def exercise(client: Client, documents: int) -> None:
    """List the tools, get a cited answer and check its citation against the document."""
    listed = await client.list_tools()
    assert {tool.name for tool in listed.tools} >= TOOLS

    asked = await client.call_tool("ask", {"question": QUESTION})
    assert not asked.is_error, asked.content
    answer = asked.structured_content
    assert answer["answerable"] and answer["confidence"] is not None
    assert answer["citations"] and "[1]" in answer["answer"]
    citation = answer["citations"][0]
    assert citation["source"].endswith((".txt", ".md"))

    got = await client.call_tool("get_document", {"doc_id": citation["doc_id"]})
    assert not got.is_error, got.content
    text = got.structured_content["text"]
    assert text[citation["start"] : citation["end"]] == citation["text"]
    assert got.structured_content["pages"] == []  # as GET /v1/documents/{id}: PDFs only
    assert "page" in citation

    searched = await client.call_tool("search", {"query": "村党组织书记 待遇", "k": 3})
    assert not searched.is_error, searched.content
    hits = searched.structured_content["hits"]
    assert len(hits) == 3 and citation["doc_id"] in {h["doc_id"] for h in hits}

    every = await client.call_tool("list_documents", {})
    assert len(every.structured_content["documents"]) == documents

    missing = await client.call_tool("get_document", {"doc_id": "no-such-doc"})
    assert missing.is_error and "no document with id" in missing.content[0].text
    empty = await client.call_tool("ask", {"question": "   "})
    assert empty.is_error and "empty" in empty.content[0].text


def test_mcp_over_stdio(index_copy, seed_bundle) -> None:
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "rag.cli", "mcp"], env=server_env(index_copy)
    )

    async def run() -> None:
        async with Client(server, read_timeout_seconds=300) as client:
            await exercise(client, seed_bundle.manifest.documents)

    asyncio.run(run())


def test_mcp_over_streamable_http_needs_the_key(services) -> None:
    with start_server(services, api_key=KEY) as url:
        endpoint = f"{url}/mcp"

        async def run() -> None:
            keyed = httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=300)
            async with keyed, Client(streamable_http_client(endpoint, http_client=keyed)) as client:
                await exercise(client, services.bundle.manifest.documents)
            wrong = httpx2.AsyncClient(headers={"Authorization": "Bearer nope"})
            with pytest.raises(Exception):  # noqa: B017 - the SDK's error for a 401
                async with wrong, Client(streamable_http_client(endpoint, http_client=wrong)):
                    pass

        asyncio.run(run())
        hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": KEY}):
            refused = httpx.post(endpoint, json=hello, headers=headers)
            assert refused.status_code == 401, headers
            assert "API key" in refused.json()["detail"]
            assert refused.headers["www-authenticate"] == "Bearer"
