"""Every error the API returns is decided here: one status per exception type, one body shape.

Bodies are `{"detail": "<message>"}`; under `/v1/chat/` they also carry OpenAI's
`{"error": {...}}` so chat UIs show the message instead of a bare status.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rag.errors import (
    EmbedderError,
    IndexStateError,
    InvalidRequestError,
    LLMError,
    OverloadedError,
    RagError,
    StorageError,
    UnknownDocumentError,
    UploadTooLargeError,
)


def status_for(exc: RagError) -> int:
    """The HTTP status of a project error (also sent in mid-stream `error` events)."""
    if isinstance(exc, UploadTooLargeError):
        return 413
    if isinstance(exc, UnknownDocumentError):
        return 404
    if isinstance(exc, InvalidRequestError):
        return 422
    if isinstance(exc, LLMError):
        return 504 if exc.timeout else 502
    if isinstance(exc, StorageError):
        return 507 if exc.no_space else 503
    if isinstance(exc, IndexStateError | EmbedderError | OverloadedError):
        return 503
    return 500


def error_body(request: Request, status: int, message: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": message, **extra}
    if request.url.path.startswith("/v1/chat/"):
        body["error"] = {"message": message, "type": _error_type(status), "code": status}
    return body


def _error_type(status: int) -> str:
    if status in (401, 403):
        return "authentication_error"
    return "invalid_request_error" if status < 500 else "server_error"


def readable(errors: list[dict[str, Any]]) -> str:
    """`k: Input should be less than or equal to 50; filters.foo: Extra inputs are ...`."""
    parts = []
    for error in errors:
        if error.get("type") == "json_invalid":
            cause = (error.get("ctx") or {}).get("error", "")
            parts.append(f"the request body is not valid JSON ({cause})".replace(" ()", ""))
            continue
        loc = [str(p) for p in error.get("loc", ())]
        if len(loc) > 1 and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]
        parts.append(f"{'.'.join(loc)}: {error['msg']}" if loc else error["msg"])
    return "; ".join(parts) or "invalid request"


async def _rag_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RagError)
    status = status_for(exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, OverloadedError) else None
    return JSONResponse(error_body(request, status, str(exc)), status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()
    ]
    message = readable(list(exc.errors()))
    if any(tuple(e["loc"] or ()) == ("body",) and e["type"] != "value_error" for e in errors):
        # Typically curl -d without a JSON content type: the body was not read as JSON.
        message = (
            "the request body must be a JSON object sent with 'Content-Type: application/json'"
        )
    body = error_body(request, 422, message, errors=errors)
    return JSONResponse(jsonable_encoder(body), status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        error_body(request, exc.status_code, str(exc.detail)),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RagError, _rag_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
