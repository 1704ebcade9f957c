"""The HTTP API over a real uvicorn server on 127.0.0.1, driven with httpx and `openai`."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from rag.answering.followup import contextualize
from rag.api import create_app
from rag.schemas import ChatMessage, SearchResult
from rag.services import Services
from tests.api_server import closed_port_url, start_server
from tests.fake_llm import (
    FakeLLM,
    error,
    reply,
    slow,
    sse,
)

# Questions with the fact each answer must contain.
FACTS = {
    "涪口区有多少名党员干部参与包片包干?": "4288",
    "湖南工程学院和多少家企业建立了产学研合作关系?": "653家",
    "桂阳县新时代文明实践中心由谁担任主任?": "彭生智",
    "北塔区丰江社区的群众自治组织“丰江管家”目前有多少名成员?": "56名",
    "浏阳市中医院派到文家市镇大成村的第一书记是谁?": "陶佑朋",
}
QUESTION = "湖南工程学院和多少家企业建立了产学研合作关系?"
UNANSWERABLE = "长沙县的村党组织书记每月能拿到多少报酬?"
FIRST = "涪口区有多少名党员干部参与包片包干?"
FOLLOW_UP = "那新建了多少个村部?"
API_KEY = "s3cret-test-key"


@pytest.fixture(scope="module")
def http(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=30) as client:
        yield client


def events_of(body: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream (`message` when unnamed)."""
    found = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        found.append((fields.get("event", "message"), fields.get("data", "")))
    return found


def assert_citations_are_exact_spans(http: httpx.Client, citations: list[dict[str, Any]]) -> None:
    for citation in citations:
        document = http.get(f"/v1/documents/{citation['doc_id']}").json()
        assert document["text"][citation["start"] : citation["end"]] == citation["text"]


# -- health, documents, search ---------------------------------------------------------------


def test_health_and_ready(http: httpx.Client, services: Services) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["documents"] == len(services.bundle.store.documents)
    assert body["chunks"] == len(services.bundle.store.chunks)
    assert body["llm"] == "extractive"
    assert {"extractive", "openai"} <= set(body["llm_clients"])
    assert body["embedder"] and body["dense_index"] and body["store"] == "faiss"


def test_not_ready_before_services_load(base_settings) -> None:
    # ASGITransport runs no lifespan: the services never load, as while starting.
    async def run() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=create_app(base_settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return (
                await client.get("/healthz"),
                await client.get("/readyz"),
                await client.get("/v1/documents"),
            )

    health, ready, documents = asyncio.run(run())
    assert health.status_code == 200
    assert ready.status_code == 503
    assert documents.status_code == 503
    assert "not loaded" in documents.json()["detail"]


def test_documents_list_and_one(http: httpx.Client, services: Services) -> None:
    documents = http.get("/v1/documents").json()["documents"]
    assert len(documents) == len(services.bundle.store.documents)
    first = documents[0]
    assert set(first) == {
        "doc_id",
        "source",
        "title",
        "place",
        "date",
        "sections",
        "chars",
        "chunks",
    }
    assert sum(d["chunks"] for d in documents) == len(services.bundle.store.chunks)
    one = http.get(f"/v1/documents/{first['doc_id']}").json()
    assert set(one) == {"doc_id", "source", "title", "text", "sections", "pages"}
    assert len(one["text"]) == first["chars"]
    assert one["sections"] == first["sections"]


def test_unknown_document_is_404(http: httpx.Client) -> None:
    response = http.get("/v1/documents/no-such-doc")
    assert response.status_code == 404
    assert "no-such-doc" in response.json()["detail"]


def test_search_has_the_shape_of_rag_search_json(http: httpx.Client, services: Services) -> None:
    response = http.get("/v1/search", params={"q": QUESTION, "k": 3, "mode": "hybrid"})
    assert response.status_code == 200
    expected = SearchResult(
        query=QUESTION, mode="hybrid", hits=services.retriever.search(QUESTION, k=3)
    )
    assert response.json() == expected.model_dump(mode="json")


def test_search_modes_and_source_filter(http: httpx.Client) -> None:
    for mode in ("dense", "bm25"):
        body = http.get("/v1/search", params={"q": QUESTION, "mode": mode}).json()
        assert body["mode"] == mode and len(body["hits"]) == 5
    source = "001_71199bcc3a10d29b.txt"
    params = {"q": "党员干部", "k": 10, "source": [source]}
    hits = http.get("/v1/search", params=params).json()["hits"]
    assert hits and {h["source"] for h in hits} == {source}


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"q": ""}, "empty"),
        ({"q": "   "}, "empty"),
        ({"q": "\x00\x01？！"}, "no letters or digits"),
        ({}, "q: Field required"),
        ({"q": QUESTION, "mode": "fuzzy"}, "mode"),
        ({"q": QUESTION, "k": 0}, "k"),
        ({"q": QUESTION, "k": 51}, "k"),
    ],
)
def test_bad_search_is_422(http: httpx.Client, params: dict[str, Any], needle: str) -> None:
    response = http.get("/v1/search", params=params)
    assert response.status_code == 422
    assert needle in response.json()["detail"]


# -- ask ------------------------------------------------------------------------------------


def test_ask_answers_with_exact_citations(http: httpx.Client) -> None:
    response = http.post("/v1/ask", json={"question": QUESTION})
    assert response.status_code == 200
    answer = response.json()
    assert answer["question"] == QUESTION
    assert answer["answerable"] is True
    assert "653家" in answer["answer"]
    assert answer["citations"] and answer["llm"] == "extractive"
    assert_citations_are_exact_spans(http, answer["citations"])


def test_ask_unanswerable_declines_without_citations(http: httpx.Client) -> None:
    answer = http.post("/v1/ask", json={"question": UNANSWERABLE}).json()
    assert answer["answerable"] is False
    assert answer["citations"] == []
    assert answer["answer"]


def test_ask_with_filters_and_k(http: httpx.Client) -> None:
    body = {"question": QUESTION, "k": 2, "filters": {"source": ["001_71199bcc3a10d29b.txt"]}}
    answer = http.post("/v1/ask", json=body).json()
    assert answer["answerable"] is True
    assert {c["source"] for c in answer["citations"]} == {"001_71199bcc3a10d29b.txt"}
    assert all(c["n"] <= 2 for c in answer["citations"])


def test_ask_stream_sends_passages_deltas_then_answer(http: httpx.Client) -> None:
    response = http.post("/v1/ask", json={"question": QUESTION, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response.text)
    names = [name for name, _ in events]
    assert names[0] == "passages" and names[-1] == "answer"
    assert set(names[1:-1]) == {"delta"} and len(names) >= 3
    passages = json.loads(events[0][1])["passages"]
    assert len(passages) == 5 and {"chunk_id", "doc_id", "text", "score"} <= set(passages[0])
    text = "".join(json.loads(data)["text"] for name, data in events if name == "delta")
    answer = json.loads(events[-1][1])
    assert answer["answerable"] is True and answer["citations"]
    assert "653家" in text and "653家" in answer["answer"]
    assert_citations_are_exact_spans(http, answer["citations"])


def test_ask_follow_up_with_history(http: httpx.Client) -> None:
    history = [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": "4288名党员干部[1]。"},
    ]
    answer = http.post("/v1/ask", json={"question": FOLLOW_UP, "history": history}).json()
    assert answer["question"].startswith("涪口区")
    assert "44个" in answer["answer"]


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"question": ""}, "empty"),
        ({"question": "   \n "}, "empty"),
        ({"question": "\x07\x1b……"}, "no letters or digits"),
        ({"question": "问" * 2001}, "limit is 2000"),
        ({"question": QUESTION, "k": 0}, "k: Input should be greater than or equal to 1"),
        ({"question": QUESTION, "k": 51}, "k: Input should be less than or equal to 50"),
        ({"question": QUESTION, "llm": "gpt-9"}, "available: extractive, openai"),
        ({"question": QUESTION, "filters": {"sources": ["x"]}}, "filters.sources"),
        ({"question": QUESTION, "top_k": 3}, "top_k"),
        ({"k": 3}, "question: Field required"),
        ({"question": "", "stream": True}, "empty"),
        ({"question": QUESTION, "llm": "gpt-9", "stream": True}, "unknown LLM client"),
    ],
)
def test_bad_ask_is_422_with_a_message(
    http: httpx.Client, body: dict[str, Any], needle: str
) -> None:
    response = http.post("/v1/ask", json=body)
    assert response.status_code in ((413, 422) if "limit" in needle else (422,))
    assert response.headers["content-type"] == "application/json"
    assert needle in response.json()["detail"]


@pytest.mark.parametrize(
    ("content", "headers", "needle"),
    [
        (b'{"question": "x",', {"Content-Type": "application/json"}, "not valid JSON"),
        (b"", {"Content-Type": "application/json"}, "JSON object"),
        (b'{"question": "x"}', {"Content-Type": "text/plain"}, "Content-Type: application/json"),
        (b'["x"]', {"Content-Type": "application/json"}, "JSON object"),
    ],
)
def test_malformed_body_is_422(
    http: httpx.Client, content: bytes, headers: dict[str, str], needle: str
) -> None:
    response = http.post("/v1/ask", content=content, headers=headers)
    assert response.status_code == 422
    assert needle in response.json()["detail"]


@pytest.mark.parametrize(
    ("messages", "needle"),
    [
        ([], "messages"),
        ([{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "x"}], "last"),
        ([{"role": "user", "content": "  "}], "empty"),
    ],
)
def test_bad_chat_request_is_422_in_openai_shape(
    http: httpx.Client, messages: list[dict[str, str]], needle: str
) -> None:
    response = http.post("/v1/chat/completions", json={"model": "m", "messages": messages})
    assert response.status_code == 422
    body = response.json()
    assert needle in body["detail"] and body["error"]["message"] == body["detail"]


def test_llm_backend_down_is_502_naming_it(services: Services) -> None:
    with start_server(services, llm_base_url=closed_port_url(), llm_retries=0) as url:
        response = httpx.post(f"{url}/v1/ask", json={"question": QUESTION, "llm": "openai"})
        assert response.status_code == 502
        assert "LLM backend 'openai' failed" in response.json()["detail"]

        # Streaming: the passages went out with status 200, so the failure comes in-band.
        body = {"question": QUESTION, "llm": "openai", "stream": True}
        events = events_of(httpx.post(f"{url}/v1/ask", json=body).text)
        assert [name for name, _ in events] == ["passages", "error"]
        error_data = json.loads(events[-1][1])
        assert error_data["status"] == 502 and "openai" in error_data["detail"]

        chat = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            chat.chat.completions.create(
                model="openai", messages=[{"role": "user", "content": QUESTION}]
            )
        assert info.value.status_code == 502 and "openai" in str(info.value)


def test_llm_timeout_is_504(services: Services, fake_llm: FakeLLM) -> None:
    fake_llm.script(slow(5))
    settings = {"llm_base_url": fake_llm.url, "llm_timeout": 0.3, "llm_retries": 0}
    with start_server(services, **settings) as url:
        started = time.perf_counter()
        response = httpx.post(f"{url}/v1/ask", json={"question": QUESTION, "llm": "openai"})
        assert response.status_code == 504
        assert "openai" in response.json()["detail"] and "timed out" in response.json()["detail"]
        assert time.perf_counter() - started < 4

        # A backend that stalls mid-answer: the pieces already sent stay, then `error`.
        fake_llm.script(sse(["新建村部"], stall=5))
        body = {"question": QUESTION, "llm": "openai", "stream": True}
        events = events_of(httpx.post(f"{url}/v1/ask", json=body).text)
        assert [name for name, _ in events] == ["passages", "delta", "error"]
        assert json.loads(events[1][1]) == {"text": "新建村部"}
        assert json.loads(events[2][1])["status"] == 504

        fake_llm.script(sse(["新建村部"], stall=5))
        chat = {"model": "openai", "messages": [{"role": "user", "content": QUESTION}]}
        data = [
            d
            for _, d in events_of(
                httpx.post(f"{url}/v1/chat/completions", json={**chat, "stream": True}).text
            )
        ]
        assert json.loads(data[1])["choices"][0]["delta"] == {"content": "新建村部"}
        assert json.loads(data[-1])["error"]["code"] == 504 and "[DONE]" not in data


def test_llm_fallback_answers_extractively(services: Services) -> None:
    changes = {"llm_base_url": closed_port_url(), "llm_retries": 0, "llm_fallback": "extractive"}
    with start_server(services, **changes) as url:
        response = httpx.post(f"{url}/v1/ask", json={"question": QUESTION, "llm": "openai"})
    assert response.status_code == 200
    answer = response.json()
    assert answer["fallback"] is True and answer["llm"] == "extractive"
    assert answer["answerable"] is True and "653家" in answer["answer"]
    assert any("openai" in note for note in answer["notes"])


# -- OpenAI-compatible chat -----------------------------------------------------------------


def test_models_list_the_clients(api_url: str) -> None:
    client = openai.OpenAI(base_url=f"{api_url}/v1", api_key="x")
    assert {"extractive", "openai"} <= {model.id for model in client.models.list()}


def test_chat_completion_with_the_openai_client(api_url: str, http: httpx.Client) -> None:
    client = openai.OpenAI(base_url=f"{api_url}/v1", api_key="x")
    completion = client.chat.completions.create(
        model="my-chat-ui-model",  # not a client name: the default client answers
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": QUESTION},
        ],
    )
    assert completion.object == "chat.completion"
    assert completion.model == "my-chat-ui-model"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert "653家" in choice.message.content and "[1]" in choice.message.content
    extra = completion.model_extra or {}
    assert extra["answerable"] is True and extra["citations"]
    assert_citations_are_exact_spans(http, extra["citations"])


def test_chat_completion_stream_with_the_openai_client(api_url: str) -> None:
    client = openai.OpenAI(base_url=f"{api_url}/v1", api_key="x")
    stream = client.chat.completions.create(
        model="extractive", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.model == "extractive" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "653家" in text
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    extra = final.model_extra or {}
    assert extra["answerable"] is True and extra["citations"]


def test_chat_streams_last_chunk_carries_the_corrected_answer(
    services: Services, fake_llm: FakeLLM
) -> None:
    fact = "涪口区77个区直单位、8个镇的4288名党员干部实行包片包干全覆盖"
    fake_llm.script(sse([fact[:10], fact[10:] + "[4]。", "该区还获得了全国文明城市称号。"]))
    with start_server(services, llm_base_url=fake_llm.url, llm_retries=0) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x")
        stream = client.chat.completions.create(
            model="openai", messages=[{"role": "user", "content": FIRST}], stream=True
        )
        chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "全国文明城市" in streamed  # the deltas are the model's words as they came
    extra = chunks[-1].model_extra or {}
    assert extra["answerable"] is True and extra["citations"]
    assert "全国文明城市" not in extra["answer"] and "4288" in extra["answer"]
    assert extra["unsupported_sentences"] == ["该区还获得了全国文明城市称号。"]
    assert all("4288" in c["text"] for c in extra["citations"])


def test_chat_stream_ends_with_done_and_final_citations(http: httpx.Client) -> None:
    body = {"model": "x", "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    response = http.post("/v1/chat/completions", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    data = [d for _, d in events_of(response.text)]
    assert data[-1] == "[DONE]"
    final = json.loads(data[-2])
    assert final["choices"][0]["finish_reason"] == "stop" and final["choices"][0]["delta"] == {}
    assert final["answerable"] is True and final["citations"]


def test_chat_unanswerable(api_url: str) -> None:
    client = openai.OpenAI(base_url=f"{api_url}/v1", api_key="x")
    completion = client.chat.completions.create(
        model="x", messages=[{"role": "user", "content": UNANSWERABLE}]
    )
    extra = completion.model_extra or {}
    assert extra["answerable"] is False and extra["citations"] == []


def test_chat_follow_up_carries_the_place_over(api_url: str) -> None:
    client = openai.OpenAI(base_url=f"{api_url}/v1", api_key="x")
    completion = client.chat.completions.create(
        model="extractive",
        messages=[
            {"role": "user", "content": FIRST},
            {"role": "assistant", "content": "4288名党员干部参与包片包干[1]。"},
            {"role": "user", "content": FOLLOW_UP},
        ],
    )
    extra = completion.model_extra or {}
    assert extra["question"] == "涪口区，新建了多少个村部?"
    assert "44个" in completion.choices[0].message.content
    assert {c["source"] for c in extra["citations"]} == {"000_7e841ab394fa862e.txt"}


def test_chat_follow_up_rewritten_by_the_llm(services: Services, fake_llm: FakeLLM) -> None:
    history = [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": "4288名[1]。"},
        {"role": "user", "content": FOLLOW_UP},
    ]
    with start_server(services, llm_base_url=fake_llm.url, llm_retries=0) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x")
        fake_llm.script(reply("改写后的问题：涪口区新建了多少个村部？"), reply("新建村部44个[1]。"))
        completion = client.chat.completions.create(model="openai", messages=history)
        assert (completion.model_extra or {})["question"] == "涪口区新建了多少个村部？"
        rewrite_prompt = fake_llm.requests[0].body["messages"][-1]["content"]
        assert FIRST in rewrite_prompt and FOLLOW_UP in rewrite_prompt
        answer_prompt = fake_llm.requests[1].body["messages"][-1]["content"]
        assert "涪口区新建了多少个村部？" in answer_prompt

        # A failed rewrite falls back to carrying the names over.
        fake_llm.script(error(400, "no"), reply("新建村部44个[1]。"))
        completion = client.chat.completions.create(model="openai", messages=history)
        assert (completion.model_extra or {})["question"] == "涪口区，新建了多少个村部?"


def test_contextualize(services: Services) -> None:
    tokenizer = services.bundle.lexical.tokenizer
    history = [
        ChatMessage(role="user", content=FIRST),
        ChatMessage(role="assistant", content="4288名[1]。"),
    ]
    assert contextualize(FOLLOW_UP, history, tokenizer) == "涪口区，新建了多少个村部?"
    assert contextualize("北塔区呢?", history, tokenizer) == "北塔区有多少名党员干部参与包片包干?"
    standalone = "浏阳市中医院派到文家市镇大成村的第一书记是谁?"
    assert contextualize(standalone, history, tokenizer) == standalone
    assert contextualize(FOLLOW_UP, [], tokenizer) == FOLLOW_UP
    # A chain of follow-ups keeps the place of the question that started it.
    chain = [*history, ChatMessage(role="user", content=FOLLOW_UP)]
    assert contextualize("它的书记是谁?", chain, tokenizer).startswith("涪口区")


# -- API key, request ids, logging ----------------------------------------------------------


def test_api_key_guards_v1_only(services: Services, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rag.api")
    with start_server(services, api_key=API_KEY) as url:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
            response = httpx.get(f"{url}/v1/documents", headers=headers)
            assert response.status_code == 401, headers
            assert "API key" in response.json()["detail"]
            assert response.headers["www-authenticate"] == "Bearer"
        denied = httpx.post(f"{url}/v1/ask", json={"question": QUESTION})
        assert denied.status_code == 401
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/readyz").status_code == 200

        good = {"Authorization": f"Bearer {API_KEY}"}
        assert httpx.get(f"{url}/v1/documents", headers=good).status_code == 200
        answer = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, headers=good)
        assert answer.status_code == 200 and answer.json()["answerable"]

        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong").models.list()
        models = openai.OpenAI(base_url=f"{url}/v1", api_key=API_KEY).models.list()
        assert "extractive" in {m.id for m in models}
        wait_for_log(caplog, "path=/v1/models status=200")
    assert API_KEY not in caplog.text
    assert "path=/v1/documents status=401" in caplog.text


def wait_for_log(caplog: pytest.LogCaptureFixture, needle: str) -> str:
    """The log line holding `needle` (written just after the response's last byte)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        for record in caplog.records:
            if record.name == "rag.api" and needle in record.getMessage():
                return record.getMessage()
        time.sleep(0.01)
    raise AssertionError(f"no log line with {needle!r}")


def test_one_log_line_per_request_with_timings(
    http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rag.api")
    request_id = "log-test-1"
    http.post("/v1/ask", json={"question": QUESTION}, headers={"X-Request-ID": request_id})
    line = wait_for_log(caplog, f"request_id={request_id}")
    assert re.search(r"method=POST path=/v1/ask status=200 ms=[\d.]+ ", line)
    assert "retrieve_ms=" in line and "generate_ms=" in line
    assert QUESTION not in line

    stream_id = "log-test-2"
    body = {"question": QUESTION, "stream": True}
    http.post("/v1/ask", json=body, headers={"X-Request-ID": stream_id})
    line = wait_for_log(caplog, f"request_id={stream_id}")
    assert "status=200" in line and "retrieve_ms=" in line and "generate_ms=" in line


def test_every_response_has_a_request_id(http: httpx.Client) -> None:
    responses = [
        http.get("/healthz"),
        http.get("/readyz"),
        http.get("/v1/documents"),
        http.get("/v1/documents/nope"),
        http.get("/no/such/route"),
        http.post("/v1/ask", json={"question": ""}),
        http.post("/v1/ask", json={"question": QUESTION, "stream": True}),
        http.get("/v1/search", params={"q": QUESTION}),
    ]
    ids = [r.headers["x-request-id"] for r in responses]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert (
        http.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    for insane in ("has space", "x" * 200, "<script>"):
        echoed = http.get("/healthz", headers={"X-Request-ID": insane}).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_unexpected_error_is_a_json_500_with_a_request_id(services: Services) -> None:
    app = create_app(services.settings, services=services)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.get("/boom")

    response = asyncio.run(run())
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert response.headers["x-request-id"]


def test_openapi_schema_lists_the_routes(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert {
        "/healthz",
        "/readyz",
        "/v1/ask",
        "/v1/search",
        "/v1/documents",
        "/v1/documents/{doc_id}",
        "/v1/chat/completions",
        "/v1/models",
    } <= set(paths)


# -- concurrency ----------------------------------------------------------------------------


def test_concurrent_asks_get_their_own_answers(api_url: str) -> None:
    questions = [q for _ in range(10) for q in FACTS]  # 50 requests, 5 questions

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
            return await asyncio.gather(
                *(client.post("/v1/ask", json={"question": q}) for q in questions)
            )

    responses = asyncio.run(run())
    assert len(responses) == 50
    for question, response in zip(questions, responses, strict=True):
        assert response.status_code == 200
        answer = response.json()
        assert answer["question"] == question
        assert FACTS[question] in answer["answer"], question


def test_cors_is_closed_by_default_and_configurable(services, http):
    preflight = {"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    closed = http.options("/v1/ask", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    with start_server(services, cors_origins=["https://example.org"]) as url:
        opened = httpx.options(f"{url}/v1/ask", headers=preflight)
        assert opened.headers["access-control-allow-origin"] == "https://example.org"
