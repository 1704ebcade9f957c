"""A client for any OpenAI-compatible `/chat/completions` endpoint (OpenAI, vLLM, llama.cpp...).

Plain httpx rather than the `openai` SDK: the service needs only two calls, and owning the
retry and error handling keeps every failure an `LLMError` that names the backend.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from rag.errors import LLMError
from rag.llm.base import GenerationRequest, Usage
from rag.llm.yesno import yes_no_payload, yes_probability
from rag.schemas import ChatMessage

# A server may ask for a long pause; an interactive answer should not wait longer than this.
MAX_RETRY_DELAY = 10.0
# Longest wait to open a connection (the read timeout is `timeout`).
CONNECT_TIMEOUT = 10.0


class _Retryable(Exception):
    """A failure worth another attempt (429, 5xx, network trouble, timeout)."""

    def __init__(
        self, cause: str, *, timeout: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(cause)
        self.cause = cause
        self.timeout = timeout
        self.retry_after = retry_after


class OpenAIClient:
    """Chat completions over HTTP, with retries and streaming. Thread-safe; call `close()`."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout: float = 60.0,
        retries: int = 2,
        deadline: float = 120.0,
        backoff: float = 0.5,
        temperature: float = 0.1,
        max_tokens: int = 512,
        name: str = "openai",
    ) -> None:
        self.name = name
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = timeout
        # Per-read timeouts do not bound a server that trickles forever (an endless stream,
        # a keep-alive every few seconds): every call also ends by this many seconds,
        # retries and pauses included.
        self.deadline = deadline
        self.retries = max(0, retries)
        self.backoff = backoff
        self.temperature = temperature
        self.max_tokens = max_tokens
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        # One pooled client per object: connections are reused across requests.
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)), headers=headers
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenAIClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def generate(self, request: GenerationRequest) -> str:
        response = self._complete(self._payload(request, stream=False))
        return self._reply_content(response, request.usage)

    def yes_probability(self, messages: list[ChatMessage]) -> float | None:
        """P(yes) from the first reply token's log-probabilities, normalised over the yes
        and no tokens among the top ones; from the reply's word when the server sends none."""
        response = self._complete(yes_no_payload(self.model, messages))
        content = self._reply_content(response, Usage())
        return yes_probability(response.json(), content)

    def _complete(self, payload: dict[str, Any]) -> httpx.Response:
        """The reply to one non-streamed request, retried on 429, 5xx and network trouble."""
        deadline = time.monotonic() + self.deadline
        for attempt in range(self.retries + 1):
            try:
                timeout = self._attempt_timeout(deadline)
                with self._http.stream("POST", self.url, json=payload, timeout=timeout) as reply:
                    response = self._read_within(reply, deadline)
                self._check_status(response)
                return response
            except httpx.RequestError as exc:
                failure = self._transport_failure(exc)
            except _Retryable as exc:
                failure = exc
            self._pause_or_raise(attempt, failure, deadline)
        raise AssertionError("unreachable")  # pragma: no cover

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        payload = self._payload(request, stream=True)
        deadline = time.monotonic() + self.deadline
        for attempt in range(self.retries + 1):
            yielded = False
            try:
                timeout = self._attempt_timeout(deadline)
                with self._http.stream("POST", self.url, json=payload, timeout=timeout) as response:
                    if response.status_code >= 400:
                        response.read()
                        self._check_status(response)
                    for piece in self._sse_pieces(response, deadline, request.usage):
                        yielded = True
                        yield piece
                return
            except httpx.RequestError as exc:
                failure = self._transport_failure(exc)
            except _Retryable as exc:
                failure = exc
            # Once text reached the caller a retry would repeat it: fail instead.
            if yielded:
                cause = f"stream broke off: {failure.cause}"
                raise LLMError(self.name, cause, timeout=failure.timeout)
            self._pause_or_raise(attempt, failure, deadline)

    # -- helpers ------------------------------------------------------------------------------

    def _payload(self, request: GenerationRequest, *, stream: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [message.model_dump() for message in request.messages],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream": stream,
        }
        if stream:  # OpenAI, vLLM, DeepSeek and Ollama then send a final usage chunk
            payload["stream_options"] = {"include_usage": True}
        return payload

    def _attempt_timeout(self, deadline: float) -> httpx.Timeout:
        """Per-read timeouts for one attempt, never reaching past the call's deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Retryable(self._deadline_cause(), timeout=True)
        read = min(self.timeout, left)
        return httpx.Timeout(read, connect=min(read, CONNECT_TIMEOUT))

    def _read_within(self, reply: httpx.Response, deadline: float) -> httpx.Response:
        """The whole reply, read piece by piece so a body that never ends meets the deadline."""
        body = bytearray()
        for part in reply.iter_bytes():
            body += part
            if time.monotonic() > deadline:
                raise _Retryable(self._deadline_cause(), timeout=True)
        kept = {k: v for k, v in reply.headers.items() if k in ("content-type", "retry-after")}
        return httpx.Response(
            reply.status_code, headers=kept, content=bytes(body), request=reply.request
        )

    def _deadline_cause(self) -> str:
        return f"no complete answer within the {self.deadline:g}s deadline from {self.url}"

    def _pause_or_raise(self, attempt: int, failure: _Retryable, deadline: float) -> None:
        """Sleep before the next attempt, or raise the final error when none is left
        (or the pause would end past the deadline)."""
        delay = failure.retry_after
        if delay is None:
            delay = self.backoff * 2**attempt
        delay = min(delay, MAX_RETRY_DELAY)
        if attempt >= self.retries or time.monotonic() + delay >= deadline:
            cause = failure.cause
            if attempt:
                cause += f" (gave up after {attempt + 1} attempts)"
            raise LLMError(self.name, cause, timeout=failure.timeout)
        time.sleep(delay)

    def _transport_failure(self, exc: httpx.RequestError) -> _Retryable:
        if isinstance(exc, httpx.TimeoutException):
            kind = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting"
            return _Retryable(f"timed out {kind} ({self.timeout:g}s) at {self.url}", timeout=True)
        if isinstance(exc, httpx.ConnectError):
            return _Retryable(f"cannot connect to {self.url}: {exc}")
        return _Retryable(f"network error talking to {self.url}: {type(exc).__name__}: {exc}")

    def _check_status(self, response: httpx.Response) -> None:
        """Raise _Retryable for 429/5xx and LLMError for other 4xx; pass 2xx/3xx."""
        status = response.status_code
        if status < 400:
            return
        cause = f"HTTP {status} from {self.url}: {_error_message(response)}"
        if status == 429 or status >= 500:
            raise _Retryable(cause, retry_after=_retry_after(response))
        raise LLMError(self.name, cause)

    def _reply_content(self, response: httpx.Response, usage: Usage) -> str:
        try:
            body = response.json()
        except ValueError as exc:
            raise LLMError(
                self.name, f"invalid JSON in reply: {exc}; body starts {response.text[:120]!r}"
            ) from exc
        try:
            content = body["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(self.name, f"unexpected reply shape: {str(body)[:200]}") from exc
        if not isinstance(content, str):
            raise LLMError(self.name, f"reply has no text content: {str(body)[:200]}")
        _record_usage(body, usage)
        return content

    def _sse_pieces(self, response: httpx.Response, deadline: float, usage: Usage) -> Iterator[str]:
        """Content pieces from a server-sent event stream, until `data: [DONE]`.

        A stream that ends without `[DONE]` (or a `finish_reason`) after some content was
        cut off mid-answer: an error, not a shorter answer.
        """
        got_content = finished = False
        data: list[str] = []
        for line in _lines_then_blank(response.iter_lines()):
            if time.monotonic() > deadline:
                raise _Retryable(self._deadline_cause(), timeout=True)
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
                continue
            if line or not data:  # comment (": keep-alive"), other field, or empty event
                continue
            event, data = "\n".join(data), []
            if event.strip() == "[DONE]":
                return
            piece, finish = self._event_content(event, usage)
            finished = finished or finish
            if piece:
                got_content = True
                yield piece
        if not got_content:
            raise LLMError(self.name, "stream ended before any content (no [DONE])")
        if not finished:
            raise _Retryable("the stream stopped mid-answer (no finish_reason or [DONE])")

    def _event_content(self, event: str, usage: Usage) -> tuple[str | None, bool]:
        """The event's content piece, and whether it says the answer is complete."""
        try:
            chunk = json.loads(event)
        except ValueError as exc:
            raise LLMError(
                self.name, f"invalid JSON in stream event: {exc}; event {event[:120]!r}"
            ) from exc
        if not isinstance(chunk, dict):
            raise LLMError(self.name, f"unexpected stream event: {event[:120]!r}")
        if chunk.get("error"):
            raise LLMError(self.name, f"error in stream: {_message_from(chunk)}")
        _record_usage(chunk, usage)
        choices = chunk.get("choices") or []  # usage-only chunks carry no choices
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return None, False
        delta = choices[0].get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        finish = bool(choices[0].get("finish_reason"))
        return (content if isinstance(content, str) else None), finish


def _record_usage(body: dict[str, Any], usage: Usage) -> None:
    """Copy a reply's (or a stream chunk's) `usage` token counts, when it has them."""
    reported = body.get("usage")
    if not isinstance(reported, dict):
        return
    for key in ("prompt_tokens", "completion_tokens"):
        value = reported.get(key)
        if isinstance(value, int) and value >= 0:
            setattr(usage, key, value)


def _lines_then_blank(lines: Iterator[str]) -> Iterator[str]:
    """The stream's lines plus a final blank one, so an unterminated last event is seen."""
    yield from lines
    yield ""


def _retry_after(response: httpx.Response) -> float | None:
    """A numeric Retry-After in seconds (HTTP dates are rare here and ignored)."""
    value = response.headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds)


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    return _message_from(body) if isinstance(body, dict) else str(body)[:200]


def _message_from(body: dict[str, Any]) -> str:
    """The human message of an error body: `{"error": {"message": ...}}` and its variants."""
    error = body.get("error", body)
    if isinstance(error, dict):
        for key in ("message", "detail", "msg"):
            if isinstance(error.get(key), str):
                return error[key]
    if isinstance(error, str):
        return error
    return str(body)[:200]
