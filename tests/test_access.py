"""Access control: with RAG_API_KEY set, every /v1/* route refuses a missing or wrong key.

The routes are read from the app itself, so a route added later is covered without
editing this file. Keys must never reach the logs; CORS stays closed unless configured.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from rag.api import create_app
from rag.services import Services
from tests.api_server import start_server

KEY = "s3cret-key-0123456789"
WRONG = "s3cret-key-0123456788"  # differs in the last character only
QUESTION = "北塔区村党组织书记的待遇提高了多少?"
# A well-formed body per route, so a refusal cannot be mistaken for a validation error.
BODIES = {
    "/v1/ask": {"question": QUESTION},
    "/v1/chat/completions": {"messages": [{"role": "user", "content": QUESTION}]},
    "/v1/documents": {"title": "标题", "text": "白水镇新建了五个村卫生室。"},
}


def v1_routes(services: Services) -> list[tuple[str, str]]:
    """(method, path) of every /v1/* operation the app publishes in its OpenAPI schema."""
    paths = create_app(services.settings, services=services).openapi()["paths"]
    routes = [
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method in operations
    ]
    assert len(routes) >= 8  # ask, search, documents (list, one, add, delete), chat, models
    return routes


def server_log(caplog: pytest.LogCaptureFixture) -> str:
    """What the service logged (the test's own HTTP client logs are left out)."""
    return "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith(("httpx", "httpcore"))
    )


def concrete(path: str) -> str:
    return path.replace("{doc_id}", "c9e2d96af731").replace("{job_id}", "0" * 32)


@pytest.fixture(scope="module")
def keyed_url(services: Services):
    with start_server(services, api_key=KEY) as url:
        yield url


def test_every_v1_route_refuses_a_missing_or_wrong_key(
    services: Services, keyed_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    refusals = [
        {},
        {"Authorization": f"Bearer {WRONG}"},
        {"Authorization": KEY},  # no scheme
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": f"Bearer {KEY}x"},
        {"Authorization": "Bearer"},
        {"X-API-Key": KEY},
    ]
    with httpx.Client(base_url=keyed_url, timeout=30) as http:
        for method, path in v1_routes(services):
            for headers in refusals:
                response = http.request(
                    method,
                    concrete(path),
                    json=BODIES.get(path),
                    params={"q": "党员"},
                    headers=headers,
                )
                assert response.status_code == 401, (method, path, headers)
                assert "API key" in response.json()["detail"]
                assert response.headers["www-authenticate"] == "Bearer"
        # The refusals changed nothing, and the open routes stay open.
        assert http.get("/healthz").status_code == 200
        listed = http.get("/v1/documents", headers={"Authorization": f"Bearer {KEY}"})
        assert listed.status_code == 200
        assert len(listed.json()["documents"]) == services.bundle.manifest.documents
    logged = server_log(caplog)
    assert "status=401" in logged
    assert KEY not in logged and WRONG not in logged


def test_the_right_key_opens_every_read_route(
    services: Services, keyed_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=keyed_url, timeout=60, headers=good) as http:
        for method, path in v1_routes(services):
            if method in ("POST", "DELETE") and path.startswith("/v1/documents"):
                continue  # writes: covered with a private index in test_api_updates
            response = http.request(
                method, concrete(path), json=BODIES.get(path), params={"q": "党员"}
            )
            if "{job_id}" in path:  # let through: no such job
                assert response.status_code == 404 and "no job" in response.text, response.text
                continue
            assert response.status_code == 200, (method, path, response.text)
    logged = server_log(caplog)
    assert "status=200" in logged and KEY not in logged


def test_cors_stays_closed_to_other_origins(services: Services) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    with start_server(services, cors_origins=["https://ok.example"], api_key=KEY) as url:
        other = httpx.options(
            f"{url}/v1/ask", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in other.headers
        allowed = httpx.options(
            f"{url}/v1/ask", headers={"Origin": "https://ok.example", **preflight}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://ok.example"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        # CORS lets the browser ask; the key is still required for the request itself.
        denied = httpx.post(
            f"{url}/v1/ask", json={"question": QUESTION}, headers={"Origin": "https://ok.example"}
        )
        assert denied.status_code == 401
