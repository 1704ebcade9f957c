"""The OpenAPI schema, corrected so it tells the truth about errors.

FastAPI documents a 422 whose `detail` is a list, and no other error; this service answers
every error with `{"detail": "<message>"}` (see rag.api.errors). Each operation's error
responses are rewritten to that shape, and the statuses any operation can return are
added: 400 (a body that cannot be parsed), 401 (`RAG_API_KEY` set), 422, 503 (loading).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
DESCRIPTIONS = {
    400: "the request body cannot be parsed (not JSON, not UTF-8, nested too deeply)",
    401: "missing or wrong API key (only when RAG_API_KEY is set)",
    422: "invalid request: the message says which field and why",
    503: "the service is starting: the index is not loaded yet",
}


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    code: int


class ErrorResponse(BaseModel):
    """Every error: `detail` is the message; under /v1/chat/ also OpenAI's `error`."""

    detail: str
    errors: list[dict[str, Any]] | None = None
    error: OpenAIErrorBody | None = None


def _error_statuses(path: str, operation: dict[str, Any]) -> list[int]:
    statuses = []
    if operation.get("requestBody"):
        statuses.append(400)
    if operation.get("requestBody") or operation.get("parameters"):
        statuses.append(422)
    if path.startswith("/v1/"):
        statuses += [401, 503]
    return statuses


def build_schema(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    models = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(models.pop("$defs", {}))
    components["ErrorResponse"] = models
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(path, operation):
                responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_schema(app: FastAPI) -> None:
    """Serve the corrected schema at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_schema(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
