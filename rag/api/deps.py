"""Dependencies shared by the routes: the loaded services and the optional API key."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from rag.config import Settings
from rag.jobs import JobRunner
from rag.services import Services


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_services(request: Request) -> Services:
    services: Services | None = request.app.state.services
    if services is None:
        raise HTTPException(503, "the service is starting: the index is not loaded yet")
    # A generation published by the CLI or another worker is swapped in here; the route
    # keeps this one reference for the whole request.
    follower = getattr(request.app.state, "index_follower", None)
    if follower is not None:
        services = follower.current(request.app.state)
    return services


KEY_MESSAGE = "missing or wrong API key: send 'Authorization: Bearer <key>'"


def key_matches(key: str, authorization: str) -> bool:
    """Whether an `Authorization` header carries `Bearer <key>`."""
    scheme, _, token = authorization.partition(" ")
    # Constant-time comparison: response timing must not reveal how much of a guess matched.
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())


def require_api_key(request: Request) -> None:
    """With `RAG_API_KEY` set, `/v1/*` needs `Authorization: Bearer <key>`."""
    key = get_settings(request).api_key
    if key and not key_matches(key, request.headers.get("authorization", "")):
        raise HTTPException(401, KEY_MESSAGE, headers={"WWW-Authenticate": "Bearer"})


def get_jobs(request: Request) -> JobRunner:
    jobs: JobRunner | None = getattr(request.app.state, "jobs", None)
    if jobs is None:
        raise HTTPException(503, "the service is starting: corpus changes are not accepted yet")
    return jobs


ServicesDep = Annotated[Services, Depends(get_services)]
JobsDep = Annotated[JobRunner, Depends(get_jobs)]
