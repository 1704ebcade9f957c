"""`rag serve`: the HTTP API in this process, or in several uvicorn workers; `rag mcp`:
the MCP tools over stdio."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from rag.cli.common import (
    IndexOpt,
    app,
    settings_from,
)
from rag.config import Settings


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Interface (default RAG_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port (default 8000).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Worker processes (with Milvus Lite, one shared milvus-lite server is started).",
        ),
    ] = 1,
    index: IndexOpt = None,
) -> None:
    """Serve the HTTP API (OpenAI-compatible chat under /v1) until interrupted."""
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from rag.api.app import create_app
    from rag.documents import ensure_index
    from rag.embedding import build_embedder
    from rag.services import Services

    settings = settings_from(index=index)
    lite_server = None
    log_config = copy.deepcopy(LOGGING_CONFIG)
    # One line per request from rag.api replaces uvicorn's access log (no query strings).
    log_config["loggers"]["rag"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    try:
        # Build here, once: N workers starting on a missing index would all build it. One
        # worker is this process: it serves what was loaded here instead of loading again.
        asgi_app: object = "rag.api.app:create_app"
        if workers == 1:
            services = Services.start(settings, progress=True)
            asgi_app = create_app(settings, services, exit_watch=True)
        else:
            settings, lite_server = share_milvus_lite(settings)
            export_for_workers(settings)
            ensure_index(settings, build_embedder(settings), progress=True)
        uvicorn.run(
            asgi_app,
            factory=workers > 1,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_config=log_config,
            access_log=False,
            # Bounded shutdown and connections (README, "Running behind a reverse proxy"):
            # uvicorn has no timeout for reading request headers; a proxy in front does.
            timeout_graceful_shutdown=settings.shutdown_seconds,
            timeout_keep_alive=settings.keep_alive_seconds,
            limit_concurrency=settings.limit_concurrency,
        )
    finally:
        if lite_server is not None:
            lite_server.terminate()
            lite_server.wait(timeout=10)


@app.command()
def mcp(index: IndexOpt = None) -> None:
    """Serve the MCP tools (search, ask, get_document, list_documents) over stdio, for an
    agent or IDE assistant that starts this command (README, "MCP")."""
    from types import SimpleNamespace

    from rag.api.mcp import build_mcp
    from rag.services import IndexFollower, Services

    settings = settings_from(index=index)
    # stdout is the protocol's: the index build, if any, reports on stderr.
    holder = SimpleNamespace(services=Services.start(settings))
    follower = IndexFollower(settings.index_reload_seconds)  # follows `rag add` elsewhere
    build_mcp(lambda: follower.current(holder)).run("stdio")


def share_milvus_lite(settings: Settings) -> tuple[Settings, subprocess.Popen | None]:
    """Milvus Lite opens its folder in one process only: for several workers, serve it on
    loopback from one `milvus-lite server` process and point every worker at that."""
    from rag.index.stores.factory import StoreConfig, share_lite

    stores = StoreConfig.from_settings(settings)
    shared, process = share_lite(stores, settings.index_dir)
    if process is None:
        return settings, None
    typer.echo(f"Milvus Lite {stores.milvus_uri} served on {shared.milvus_uri} for the workers")
    return settings.model_copy(update={"milvus_uri": shared.milvus_uri}), process


def export_for_workers(settings: Settings) -> None:
    """uvicorn's workers are new processes that read their settings from `RAG_*`
    variables: the only settings this command changes are passed on that way."""
    os.environ["RAG_INDEX_DIR"] = str(Path(settings.index_dir).resolve())
    if settings.milvus_uri:
        os.environ["RAG_MILVUS_URI"] = settings.milvus_uri
