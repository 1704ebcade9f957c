"""A scriptable fake OpenAI-compatible server on 127.0.0.1, for testing LLM clients.

Each request consumes the next behaviour of the script; the last one repeats. With no
script the server echoes the last user message. Use it through the `fake_llm` fixture
(tests/conftest.py):

    def test_x(fake_llm):
        fake_llm.script(error(500), reply("ok"))
        client = OpenAIClient(fake_llm.url, "m")
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Behaviour = Callable[["_Handler", dict[str, Any]], None]


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any]


def usage_of(text: str) -> dict[str, int]:
    """The token counts the fake reports: one token per character of the reply, 100 for
    the prompt (real servers count with their tokenizer; the tests only need them passed on)."""
    return {"prompt_tokens": 100, "completion_tokens": len(text), "total_tokens": 100 + len(text)}


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": "fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": usage_of(text),
    }


def _chunk(content: str | None, *, role: bool = False) -> bytes:
    delta: dict[str, Any] = {"role": "assistant"} if role else {}
    if content is not None:
        delta["content"] = content
    body = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [{"delta": delta}]}
    return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"


def reply(text: str) -> Behaviour:
    """A normal JSON completion."""

    def run(handler: _Handler, body: dict[str, Any]) -> None:
        handler.send_json(200, _completion(text))

    return run


def yes_no(p_yes: float, *, logprobs: bool = True) -> Behaviour:
    """A one-token yes/no reply ("是" when `p_yes` >= 0.5) whose first token's
    alternatives give 是 probability `p_yes` and 否 the rest (none with `logprobs=False`)."""

    def run(handler: _Handler, body: dict[str, Any]) -> None:
        completion = _completion("是" if p_yes >= 0.5 else "否")
        if logprobs:
            top = [
                {"token": word, "logprob": math.log(chance)}
                for word, chance in (("是", p_yes), ("否", 1 - p_yes), ("不", 1e-9))
                if chance > 0
            ]
            completion["choices"][0]["logprobs"] = {
                "content": [{"token": top[0]["token"], "logprob": 0.0, "top_logprobs": top}]
            }
        handler.send_json(200, completion)

    return run


def sse(pieces: list[str], *, done: bool = True, stall: float = 0.0) -> Behaviour:
    """A streamed completion: a role-only chunk, a keep-alive comment, the pieces, [DONE].

    With `done=False` the stream just stops after the pieces (a server that died mid-way);
    `stall` seconds of silence after the pieces make a server that hangs mid-way.
    """

    def run(handler: _Handler, body: dict[str, Any]) -> None:
        handler.start_stream()
        handler.write(_chunk(None, role=True))
        handler.write(b": keep-alive\n\n")
        for piece in pieces:
            handler.write(_chunk(piece))
            handler.write(_chunk(""))  # empty deltas happen and must be skipped
        if stall and handler.server.stopping.wait(stall):
            return
        if done:
            usage = {"id": "chatcmpl-fake", "choices": [], "usage": usage_of("".join(pieces))}
            handler.write(b"data: " + json.dumps(usage).encode() + b"\n\n")
            handler.write(b"data: [DONE]\n\n")

    return run


def echo() -> Behaviour:
    """The last user message back, streamed (two pieces) when the request asks for it."""

    def run(handler: _Handler, body: dict[str, Any]) -> None:
        users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
        text = users[-1] if users else ""
        if body.get("stream"):
            half = len(text) // 2
            sse([text[:half], text[half:]])(handler, body)
        else:
            reply(text)(handler, body)

    return run


def error(status: int, message: str = "boom", *, retry_after: str | None = None) -> Behaviour:
    """An HTTP error with an OpenAI-style `{"error": {"message": ...}}` body."""

    def run(handler: _Handler, body: dict[str, Any]) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        handler.send_json(status, {"error": {"message": message, "type": "fake"}}, headers)

    return run


def slow(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Say nothing for `seconds` (cut short when the server stops), then behave as `then`."""

    def run(handler: _Handler, body: dict[str, Any]) -> None:
        if handler.server.stopping.wait(seconds):
            return
        (then or reply("late"))(handler, body)

    return run


def raw(data: bytes, *, status: int = 200, content_type: str = "application/json") -> Behaviour:
    """Exactly these bytes as the body (e.g. malformed JSON)."""

    def run(handler: _Handler, body: dict[str, Any]) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.write(data)

    return run


def malformed_sse() -> Behaviour:
    """A stream whose first event is not JSON."""

    def run(handler: _Handler, body: dict[str, Any]) -> None:
        handler.start_stream()
        handler.write(b"data: {not json\n\n")
        handler.write(_chunk("never seen"))
        handler.write(b"data: [DONE]\n\n")

    return run


def slow_first_token(seconds: float, pieces: list[str]) -> Behaviour:
    """Stream headers and a role chunk at once, then silence before the first piece."""

    def run(handler: _Handler, body: dict[str, Any]) -> None:
        handler.start_stream()
        handler.write(_chunk(None, role=True))
        if handler.server.stopping.wait(seconds):
            return
        sse(pieces)(handler, body)

    return run


def endless(interval: float = 0.01) -> Behaviour:
    """A stream that never ends: a piece every `interval` seconds until the client leaves."""

    def run(handler: _Handler, body: dict[str, Any]) -> None:
        handler.start_stream()
        handler.write(_chunk(None, role=True))
        while not handler.server.stopping.wait(interval):
            handler.write(_chunk("又一句。"))

    return run


def disconnect() -> Behaviour:
    """Read the request, then close the connection without a word."""

    def run(handler: _Handler, body: dict[str, Any]) -> None:
        handler.close_connection = True
        handler.connection.shutdown(socket.SHUT_RDWR)

    return run


def bad_event_mid_stream(pieces: list[str]) -> Behaviour:
    """Some good pieces, then an event whose data is not JSON."""

    def run(handler: _Handler, body: dict[str, Any]) -> None:
        handler.start_stream()
        for piece in pieces:
            handler.write(_chunk(piece))
        handler.write(b'data: {"choices": [{"delta": {"content": "x"\n\n')
        handler.write(b"data: [DONE]\n\n")

    return run


def client_connections(port: int) -> int:
    """Open TCP connections from this process to 127.0.0.1:`port` (client ends only).

    Matches the socket inodes of /proc/self/fd against /proc/net/tcp rows whose remote
    port is `port`: a connection leak shows up here even while the server side is gone.
    """
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if remote_port == port and fields[9] in inodes:
            count += 1
    return count


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeLLM) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hang up on purpose in these tests (timeouts); stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request logging in test output."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length)
        try:
            body = json.loads(raw_body or b"{}")
        except ValueError:
            body = {"_raw": raw_body.decode("utf-8", "replace")}
        headers = {name.lower(): value for name, value in self.headers.items()}
        behaviour = self.server.fake.record(Received(self.path, headers, body))
        behaviour(self, body)

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.write(data)

    def start_stream(self) -> None:
        # HTTP/1.0 without Content-Length: the body ends when the connection closes.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()


class FakeLLM:
    """The server plus its script and the requests it received."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._script: list[Behaviour] = [echo()]
        self._lock = threading.Lock()
        self._server = _Server(self)
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def answer_requests(self) -> list[Received]:
        """The requests for an answer: all but the yes/no checks (they ask for logprobs)."""
        return [r for r in self.requests if not r.body.get("logprobs")]

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The base URL clients take (`.../v1`; they append `/chat/completions`)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        """Behaviours for the next requests, in order; the last one then repeats."""
        with self._lock:
            self._script = list(behaviours) or [echo()]

    def record(self, received: Received) -> Behaviour:
        with self._lock:
            self.requests.append(received)
            return self._script.pop(0) if len(self._script) > 1 else self._script[0]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
