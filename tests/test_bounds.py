"""Every request's work is bounded by the settings, whatever it sends (issue #14).

The four history requests of the issue return 200 or 422 (their times are measured by
`python evals/burst.py`); filter lists, titles and bodies have limits with clear 4xx;
a full admission lane is a 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from rag.answering.history import bounded_history, followup_window
from rag.api import create_app
from rag.api.limits import Lane
from rag.errors import InvalidRequestError, OverloadedError
from rag.schemas import ChatMessage
from tests.api_server import serve, start_server, with_settings


def cjk(n: int, seed: int = 14) -> str:
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(n))


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


# -- the four history requests ---------------------------------------------------
def test_a_history_turn_over_the_limit_is_a_422_naming_the_setting(api_url):
    body = {"question": "那它呢?", "history": [user(cjk(10_000))]}
    response = httpx.post(f"{api_url}/v1/ask", json=body, timeout=60)
    assert response.status_code == 422
    assert "history[0] is 10000 characters long" in response.json()["detail"]
    assert "RAG_MAX_TURN_CHARS" in response.json()["detail"]


def test_chat_with_a_long_earlier_message_answers(api_url):
    messages = [user(cjk(3_000)), user("那它呢?")]
    response = httpx.post(f"{api_url}/v1/chat/completions", json={"messages": messages}, timeout=60)
    assert response.status_code == 200, response.text


def test_a_hundred_long_turns_answer_from_the_most_recent(api_url):
    history = [user(cjk(2_000, seed=i)) for i in range(99)] + [user("涪口区新建了多少个村部?")]
    body = {"question": "那北塔区呢?", "history": history}
    response = httpx.post(f"{api_url}/v1/ask", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert "北塔区" in response.json()["question"]


def test_a_long_stream_request_is_refused_before_the_stream(api_url):
    body = {"question": "那它呢?", "history": [user(cjk(5_000))], "stream": True}
    response = httpx.post(f"{api_url}/v1/ask", json=body, timeout=60)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/json")


# -- what the answerer reads ---------------------------------------------------------------
def test_bounded_history_drops_the_oldest_turns_and_system_ones():
    turns = [ChatMessage(role="user", content=f"问题{i}" + "字" * 95) for i in range(10)]
    turns.insert(3, ChatMessage(role="system", content="ignore"))
    kept = bounded_history(turns, max_turn_chars=200, max_history_chars=350)
    assert [m.content[:3] for m in kept] == ["问题7", "问题8", "问题9"]
    with pytest.raises(InvalidRequestError, match="history\\[0\\] is 98 characters"):
        bounded_history(turns, max_turn_chars=5, max_history_chars=10_000)


def test_the_followup_window_reads_only_recent_user_text():
    history = [
        ChatMessage(role="user", content="涪口区有多少个村?"),
        ChatMessage(role="assistant", content="答" * 3000),
        ChatMessage(role="user", content="北塔区" + "的" * 500),
        ChatMessage(role="user", content="醴陵呢?"),
    ]
    window = followup_window(history, 100)
    assert [m.content for m in window] == ["北塔区" + "的" * 93, "醴陵呢?"]
    assert sum(len(m.content) for m in window) == 100
    assert followup_window(history, 4) == [ChatMessage(role="user", content="醴陵呢?")]


# -- other inputs whose work grows with their size -------------------------------------------
def test_filter_lists_are_bounded(api_url):
    body = {"question": "村卫生室", "filters": {"place": [f"县{i}" for i in range(51)]}}
    response = httpx.post(f"{api_url}/v1/ask", json=body, timeout=60)
    assert response.status_code == 422
    assert "filters.place" in response.json()["detail"]
    params = [("q", "村卫生室")] + [("source", f"{i}.txt") for i in range(51)]
    response = httpx.get(f"{api_url}/v1/search", params=params, timeout=60)
    assert response.status_code == 422
    assert "source" in response.json()["detail"]
    long_value = {"question": "村卫生室", "filters": {"doc_id": ["x" * 201]}}
    assert httpx.post(f"{api_url}/v1/ask", json=long_value, timeout=60).status_code == 422


def test_a_long_title_is_refused(api_url):
    body = {"title": "长" * 201, "text": "青山县新建了卫生室。"}
    response = httpx.post(f"{api_url}/v1/documents", json=body, timeout=60)
    assert response.status_code == 422
    assert "title is 201 characters long" in response.json()["detail"]


def test_a_body_over_the_limit_is_a_413(services):
    with start_server(services, max_body_bytes=4096) as url:
        big = {"question": "村卫生室", "history": [user("字" * 3000)]}
        response = httpx.post(f"{url}/v1/ask", json=big, timeout=60)
        assert response.status_code == 413
        assert "RAG_MAX_BODY_BYTES" in response.json()["detail"]

        def chunked():  # no Content-Length: counted while it arrives
            yield b'{"question": "' + "字".encode() * 3000 + b'"}'

        response = httpx.post(
            f"{url}/v1/chat/completions",
            content=chunked(),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert response.status_code == 413
        assert "RAG_MAX_BODY_BYTES" in response.json()["error"]["message"]
        small = httpx.post(f"{url}/v1/ask", json={"question": "村卫生室"}, timeout=60)
        assert small.status_code == 200


# -- admission -----------------------------------------------------------------------------
def test_a_lane_runs_and_queues_its_limit_then_refuses():
    async def scenario() -> None:
        lane = Lane("long requests", active=1, queued=1)
        release = await lane.acquire()
        waiting = asyncio.ensure_future(lane.acquire())
        await asyncio.sleep(0)
        assert lane.waiting == 1
        with pytest.raises(OverloadedError, match="1 long requests running and 1 waiting") as exc:
            await lane.acquire()
        assert exc.value.retry_after >= 1
        release()
        release()  # twice is harmless
        (await waiting)()
        assert lane.running == 0

    asyncio.run(scenario())


def test_a_full_long_lane_is_a_503_with_retry_after_and_short_asks_still_answer(services):
    custom = with_settings(services, max_queued_long=0)
    app = create_app(custom.settings, services=custom)
    with serve(app) as url:
        app.state.lanes.long.running = 1  # as if a long request held the only slot
        long_question = {"question": "村卫生室" + cjk(200)}
        response = httpx.post(f"{url}/v1/ask", json=long_question, timeout=60)
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) >= 1
        assert "busy" in response.json()["detail"]
        short = httpx.post(f"{url}/v1/ask", json={"question": "村卫生室有多少个?"}, timeout=60)
        assert short.status_code == 200
        app.state.lanes.long.running = 0
