"""Liveness and readiness, open even when an API key is set (probes carry no key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from rag.api.schemas import Health, Ready
from rag.services import Services

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> Health:
    """The process answers HTTP; says nothing about the index."""
    return Health()


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: {"description": "services not loaded yet"}},
)
def readyz(request: Request) -> Ready | JSONResponse:
    """Ready once the embedder, index and answerer are loaded: route traffic here then."""
    services: Services | None = request.app.state.services
    if services is None:
        return JSONResponse(
            {"status": "starting", "detail": "the index is not loaded yet"}, status_code=503
        )
    manifest = services.bundle.manifest
    return Ready(
        documents=manifest.documents,
        chunks=manifest.chunks,
        embedder=manifest.embedder,
        llm=services.settings.llm,
        llm_clients=services.answerer.registry.names(),
        dense_index=manifest.dense_index,
        store=manifest.store,
    )
