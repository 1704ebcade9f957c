"""A real uvicorn server on 127.0.0.1 in a background thread, for the API tests.

The session server wraps the session `services`, so the model and index load once.
`start_server(services, **changes)` starts another over the same embedder and index with
other settings (an API key, an LLM backend, a fallback). The session server is the
`api_url` fixture (tests/conftest.py).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from evals.harness import free_port
from rag.api import create_app
from rag.services import Services


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run `app` until the block ends; yields its base URL (`http://127.0.0.1:<port>`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # a free port, held from now on: no race with other tests
    config = uvicorn.Config(
        app, log_config=None, log_level="warning", access_log=False, timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def with_settings(services: Services, **changes: Any) -> Services:
    """Services over the same embedder and index, with some settings changed."""
    settings = services.settings.model_copy(update=changes)
    return Services.from_parts(settings, services.embedder, services.bundle)


@contextmanager
def start_server(services: Services, **changes: Any) -> Iterator[str]:
    """A second server whose settings differ from the session one's by `changes`."""
    custom = with_settings(services, **changes)
    with serve(create_app(custom.settings, services=custom)) as url:
        yield url


def closed_port_url() -> str:
    """An OpenAI-style base URL where nothing listens (connections are refused)."""
    return f"http://127.0.0.1:{free_port()}/v1"
