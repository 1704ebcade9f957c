"""OpenAIClient against a fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from rag.errors import LLMError
from rag.llm.base import GenerationRequest, Usage
from rag.llm.openai import OpenAIClient
from rag.schemas import ChatMessage
from tests.fake_llm import (
    FakeLLM,
    error,
    malformed_sse,
    raw,
    reply,
    slow,
    sse,
    yes_no,
)

REQUEST = GenerationRequest(
    question="村里修了几条路？",
    passages=[],
    messages=[
        ChatMessage(role="system", content="只根据资料回答。"),
        ChatMessage(role="user", content="村里修了几条路？"),
    ],
)


@pytest.fixture
def client(fake_llm: FakeLLM) -> Iterator[OpenAIClient]:
    with OpenAIClient(fake_llm.url, "test-model", api_key="sk-test", retries=2, backoff=0.01) as c:
        yield c


def test_generate_returns_the_reply_and_sends_model_messages_and_key(
    fake_llm: FakeLLM,
    client: OpenAIClient,
) -> None:
    fake_llm.script(reply("修了三条路[1]。"))
    assert client.generate(REQUEST) == "修了三条路[1]。"
    (received,) = fake_llm.requests
    assert received.path == "/v1/chat/completions"
    assert received.headers["authorization"] == "Bearer sk-test"
    assert received.body["model"] == "test-model"
    assert received.body["stream"] is False
    assert received.body["messages"] == [m.model_dump() for m in REQUEST.messages]


def test_no_authorization_header_without_key(fake_llm: FakeLLM) -> None:
    with OpenAIClient(fake_llm.url, "m") as client:
        assert client.generate(REQUEST) == "村里修了几条路？"  # the default echo
    assert "authorization" not in fake_llm.requests[0].headers


def test_stream_yields_pieces_in_order(fake_llm: FakeLLM, client: OpenAIClient) -> None:
    fake_llm.script(sse(["修了", "三条", "路[1]。"]))
    pieces = list(client.stream(REQUEST))
    assert pieces == ["修了", "三条", "路[1]。"]
    assert fake_llm.requests[0].body["stream"] is True


def test_stream_echo_joins_to_the_question(client: OpenAIClient) -> None:
    assert "".join(client.stream(REQUEST)) == "村里修了几条路？"


def test_server_error_is_retried_then_names_the_backend(
    fake_llm: FakeLLM,
    client: OpenAIClient,
) -> None:
    fake_llm.script(error(500, "model crashed"))
    with pytest.raises(LLMError) as info:
        client.generate(REQUEST)
    assert info.value.backend == "openai"
    assert "'openai'" in str(info.value)
    assert "500" in str(info.value) and "model crashed" in str(info.value)
    assert len(fake_llm.requests) == 3  # 1 + retries


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_retries_count_is_respected(fake_llm: FakeLLM, retries: int) -> None:
    fake_llm.script(error(503))
    with OpenAIClient(fake_llm.url, "m", retries=retries, backoff=0.001) as client:
        with pytest.raises(LLMError):
            client.generate(REQUEST)
        assert len(fake_llm.requests) == retries + 1
        with pytest.raises(LLMError):
            list(client.stream(REQUEST))
        assert len(fake_llm.requests) == 2 * (retries + 1)


def test_rate_limit_then_success(fake_llm: FakeLLM, client: OpenAIClient) -> None:
    fake_llm.script(error(429, retry_after="0"), error(429, retry_after="0"), reply("好"))
    assert client.generate(REQUEST) == "好"
    assert len(fake_llm.requests) == 3


def test_stream_rate_limit_then_success(fake_llm: FakeLLM, client: OpenAIClient) -> None:
    fake_llm.script(error(429, retry_after="0"), sse(["好", "的"]))
    assert list(client.stream(REQUEST)) == ["好", "的"]
    assert len(fake_llm.requests) == 2


def test_client_error_is_not_retried_and_carries_the_server_message(
    fake_llm: FakeLLM,
    client: OpenAIClient,
) -> None:
    fake_llm.script(error(400, "model 'x' not found"))
    with pytest.raises(LLMError, match="model 'x' not found") as info:
        client.generate(REQUEST)
    assert "400" in str(info.value)
    assert len(fake_llm.requests) == 1


def test_timeout_is_flagged_and_bounded(fake_llm: FakeLLM) -> None:
    fake_llm.script(slow(5.0))
    with OpenAIClient(fake_llm.url, "m", timeout=0.5, retries=1, backoff=0.01) as client:
        started = time.monotonic()
        with pytest.raises(LLMError) as info:
            client.generate(REQUEST)
        assert time.monotonic() - started < 3.0
    assert info.value.timeout is True
    assert "timed out" in str(info.value)
    assert len(fake_llm.requests) == 2


def test_stream_timeout_is_flagged(fake_llm: FakeLLM) -> None:
    fake_llm.script(slow(5.0))
    client = OpenAIClient(fake_llm.url, "m", timeout=0.3, retries=0)
    with client, pytest.raises(LLMError) as info:
        list(client.stream(REQUEST))
    assert info.value.timeout is True


def test_malformed_json_body(fake_llm: FakeLLM, client: OpenAIClient) -> None:
    fake_llm.script(raw(b'{"choices": [oops'))
    with pytest.raises(LLMError, match="invalid JSON"):
        client.generate(REQUEST)
    assert len(fake_llm.requests) == 1


def test_unexpected_reply_shape(fake_llm: FakeLLM, client: OpenAIClient) -> None:
    fake_llm.script(raw(b'{"id": "x"}'))
    with pytest.raises(LLMError, match="unexpected reply shape"):
        client.generate(REQUEST)


def test_malformed_sse_event(fake_llm: FakeLLM, client: OpenAIClient) -> None:
    fake_llm.script(malformed_sse())
    with pytest.raises(LLMError, match="invalid JSON"):
        list(client.stream(REQUEST))


def test_stream_cut_after_content_is_an_error(fake_llm: FakeLLM, client: OpenAIClient) -> None:
    """No [DONE] and no finish_reason: the answer was cut off, not finished."""
    fake_llm.script(sse(["修了", "三条"], done=False))
    pieces: list[str] = []
    with pytest.raises(LLMError, match="mid-answer"):
        pieces.extend(client.stream(REQUEST))
    assert pieces == ["修了", "三条"]


def test_stream_failing_after_content_is_not_retried(fake_llm: FakeLLM) -> None:
    fake_llm.script(sse(["修了"], stall=5.0))
    client = OpenAIClient(fake_llm.url, "m", timeout=0.3, retries=2, backoff=0.001)
    pieces: list[str] = []
    with client, pytest.raises(LLMError, match="broke off") as info:
        pieces.extend(client.stream(REQUEST))
    assert pieces == ["修了"]  # nothing repeated
    assert info.value.timeout is True
    assert len(fake_llm.requests) == 1


def test_stream_cut_before_content_fails(fake_llm: FakeLLM, client: OpenAIClient) -> None:
    fake_llm.script(sse([], done=False))
    with pytest.raises(LLMError, match="before any content"):
        list(client.stream(REQUEST))


def test_connection_refused_names_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with OpenAIClient(url, "m", retries=1, backoff=0.001) as client:
        with pytest.raises(LLMError) as info:
            client.generate(REQUEST)
        assert f"127.0.0.1:{port}" in str(info.value)
        assert info.value.timeout is False
        with pytest.raises(LLMError, match="cannot connect"):
            list(client.stream(REQUEST))


def test_custom_name_appears_in_errors(fake_llm: FakeLLM) -> None:
    fake_llm.script(error(401, "bad key"))
    client = OpenAIClient(fake_llm.url, "m", name="vllm")
    with client, pytest.raises(LLMError, match="'vllm'.*bad key"):
        client.generate(REQUEST)


def test_usage_is_recorded_from_a_reply(fake_llm: FakeLLM, client: OpenAIClient) -> None:
    fake_llm.script(reply("修了三条路[1]。"))
    request = GenerationRequest(REQUEST.question, [], REQUEST.messages)
    client.generate(request)
    assert request.usage == Usage(prompt_tokens=100, completion_tokens=len("修了三条路[1]。"))


def test_usage_is_recorded_from_the_streams_last_chunk(
    fake_llm: FakeLLM, client: OpenAIClient
) -> None:
    fake_llm.script(sse(["修了", "三条路[1]。"]))
    request = GenerationRequest(REQUEST.question, [], REQUEST.messages)
    assert "".join(client.stream(request)) == "修了三条路[1]。"
    assert request.usage == Usage(prompt_tokens=100, completion_tokens=len("修了三条路[1]。"))
    assert fake_llm.requests[0].body["stream_options"] == {"include_usage": True}


def test_a_server_that_reports_no_usage_leaves_zeros(
    fake_llm: FakeLLM, client: OpenAIClient
) -> None:
    body = b'{"choices": [{"message": {"role": "assistant", "content": "ok"}}]}'
    fake_llm.script(raw(body))
    request = GenerationRequest(REQUEST.question, [], REQUEST.messages)
    assert client.generate(request) == "ok"
    assert request.usage == Usage()


YES_NO = [ChatMessage(role="user", content="资料是否直接回答了这个问题？只回答“是”或“否”。")]


def test_yes_probability_is_read_from_the_first_tokens_alternatives(
    fake_llm: FakeLLM, client: OpenAIClient
) -> None:
    fake_llm.script(yes_no(0.3))
    assert client.yes_probability(YES_NO) == pytest.approx(0.3, abs=1e-6)
    sent = fake_llm.requests[-1].body
    assert sent["max_tokens"] == 1 and sent["logprobs"] is True and sent["top_logprobs"] > 1
    assert sent["temperature"] == 0 and sent["messages"][0]["content"] == YES_NO[0].content


def test_yes_probability_without_logprobs_is_read_from_the_word(
    fake_llm: FakeLLM, client: OpenAIClient
) -> None:
    fake_llm.script(yes_no(0.9, logprobs=False), yes_no(0.1, logprobs=False), reply("Yes."))
    assert client.yes_probability(YES_NO) == 1.0
    assert client.yes_probability(YES_NO) == 0.0
    assert client.yes_probability(YES_NO) == 1.0
    fake_llm.script(reply("资料"))  # neither yes nor no
    assert client.yes_probability(YES_NO) is None


def test_yes_probability_fails_like_any_call(fake_llm: FakeLLM, client: OpenAIClient) -> None:
    fake_llm.script(error(400, "logprobs not supported"))
    with pytest.raises(LLMError, match="logprobs not supported"):
        client.yes_probability(YES_NO)
