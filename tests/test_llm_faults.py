"""LLM backend faults, end to end: each ends in bounded time with a clear error (or the
flagged extractive fallback), and leaves no connection open behind it.

The fake OpenAI-compatible server (tests/fake_llm.py) plays each fault; connections are
counted from this process's own sockets (`client_connections`).
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from rag.errors import LLMError
from rag.llm.base import GenerationRequest
from rag.llm.openai import OpenAIClient
from rag.schemas import ChatMessage
from rag.services import Services
from tests.api_server import start_server
from tests.fake_llm import (
    Behaviour,
    FakeLLM,
    bad_event_mid_stream,
    client_connections,
    disconnect,
    endless,
    error,
    slow_first_token,
    sse,
)

REQUEST = GenerationRequest(
    question="修了几条路?", passages=[], messages=[ChatMessage(role="user", content="修了几条路?")]
)
QUESTION = "北塔区村党组织书记的待遇提高了多少?"
TIMEOUT, DEADLINE = 0.5, 2.0
# Longest any faulty call may take: the deadline plus scheduling slack on a busy machine.
BOUND = DEADLINE + 3.0

# name -> (behaviour, words the error names)
FAULTS: dict[str, tuple[Behaviour, str]] = {
    "slow first token": (slow_first_token(30.0, ["太晚了。"]), "timed out"),
    "stops mid-answer": (sse(["修了三条", "路，"], done=False), "mid-answer"),
    "disconnect": (disconnect(), "disconnected"),
    "invalid JSON event": (bad_event_mid_stream(["修了三条路。"]), "invalid JSON"),
    "endless stream": (endless(), "deadline"),
    "429 storm": (error(429, "slow down", retry_after="0.2"), "429"),
    "429 asking for a long pause": (error(429, "come back later", retry_after="60"), "429"),
}


def faulty_client(fake_llm: FakeLLM) -> OpenAIClient:
    return OpenAIClient(
        fake_llm.url, "m", timeout=TIMEOUT, retries=2, backoff=0.01, deadline=DEADLINE
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_streaming_client_fails_fast_and_clearly(fake_llm: FakeLLM, fault: str) -> None:
    behaviour, words = FAULTS[fault]
    fake_llm.script(behaviour)
    with faulty_client(fake_llm) as client:
        for _ in range(3):  # repeated: a leak would grow with each call
            started = time.monotonic()
            with pytest.raises(LLMError) as info:
                list(client.stream(REQUEST))
            assert time.monotonic() - started < BOUND, fault
            assert words in str(info.value), str(info.value)
            assert "'openai'" in str(info.value)
            assert client_connections(fake_llm.port) <= 1
    assert client_connections(fake_llm.port) == 0


@pytest.mark.parametrize("fault", ["slow first token", "disconnect", "429 storm"])
def test_plain_client_fails_fast_and_clearly(fake_llm: FakeLLM, fault: str) -> None:
    behaviour, words = FAULTS[fault]
    fake_llm.script(behaviour)
    with faulty_client(fake_llm) as client:
        started = time.monotonic()
        with pytest.raises(LLMError, match=words):
            client.generate(REQUEST)
        assert time.monotonic() - started < BOUND
    assert client_connections(fake_llm.port) == 0


def test_a_finish_reason_without_done_is_a_complete_answer(fake_llm: FakeLLM) -> None:
    def finished(handler, body) -> None:  # noqa: ANN001
        handler.start_stream()
        chunk = {"choices": [{"delta": {"content": "修了三条路。"}, "finish_reason": "stop"}]}
        handler.write(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n")

    fake_llm.script(finished)
    with faulty_client(fake_llm) as client:
        assert list(client.stream(REQUEST)) == ["修了三条路。"]


def test_429_storm_gives_up_after_the_configured_attempts(fake_llm: FakeLLM) -> None:
    fake_llm.script(error(429, "slow down", retry_after="0"))
    with faulty_client(fake_llm) as client, pytest.raises(LLMError, match="after 3 attempts"):
        client.generate(REQUEST)
    assert len(fake_llm.requests) == 3


# -- through the API ------------------------------------------------------------------------


def llm_settings(fake_llm: FakeLLM, **changes: object) -> dict[str, object]:
    return {
        "llm": "openai",
        "llm_base_url": fake_llm.url,
        "llm_timeout": TIMEOUT,
        "llm_retries": 1,
        "llm_deadline": DEADLINE,
        **changes,
    }


def stream_events(response: httpx.Response) -> list[tuple[str, dict]]:
    events = []
    for block in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines.get("event", ""), json.loads(lines["data"])))
    return events


@pytest.mark.parametrize("fault", FAULTS)
def test_api_answers_each_fault_with_an_error_in_bounded_time(
    services: Services, fake_llm: FakeLLM, fault: str
) -> None:
    behaviour, _ = FAULTS[fault]
    fake_llm.script(behaviour)
    with start_server(services, **llm_settings(fake_llm)) as url, httpx.Client(timeout=30) as http:
        started = time.monotonic()
        plain = http.post(f"{url}/v1/ask", json={"question": QUESTION})
        assert time.monotonic() - started < BOUND
        assert plain.status_code in (502, 504), plain.text
        assert "LLM backend 'openai' failed" in plain.json()["detail"]

        started = time.monotonic()
        streamed = http.post(f"{url}/v1/ask", json={"question": QUESTION, "stream": True})
        assert time.monotonic() - started < BOUND
        assert streamed.status_code == 200
        kind, data = stream_events(streamed)[-1]
        assert kind == "error" and data["status"] in (502, 504), data
        assert "openai" in data["detail"]
        assert client_connections(fake_llm.port) <= 1


@pytest.mark.parametrize("fault", ["stops mid-answer", "endless stream", "429 storm"])
def test_api_falls_back_to_a_flagged_extractive_answer(
    services: Services, fake_llm: FakeLLM, fault: str
) -> None:
    behaviour, _ = FAULTS[fault]
    fake_llm.script(behaviour)
    settings = llm_settings(fake_llm, llm_fallback="extractive")
    with start_server(services, **settings) as url, httpx.Client(timeout=30) as http:
        for stream in (False, True):
            started = time.monotonic()
            response = http.post(f"{url}/v1/ask", json={"question": QUESTION, "stream": stream})
            assert time.monotonic() - started < BOUND
            assert response.status_code == 200
            answer = stream_events(response)[-1][1] if stream else response.json()
            assert answer["fallback"] is True and answer["llm"] == "extractive"
            assert answer["answerable"] and answer["citations"]
            assert any("extractive fallback" in note for note in answer["notes"])
        assert client_connections(fake_llm.port) <= 1
