"""Milvus Lite: a `.db` folder opened by one process, or served on loopback for several.

Milvus Lite (the `milvus-lite` package, a pure-Python engine) locks its folder to one
process. `rag serve --workers N` therefore starts one `milvus-lite server` owning the
folder and points every worker at `http://127.0.0.1:PORT` (see `factory.share_lite`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from rag.errors import IndexStateError


def is_lite(uri: str) -> bool:
    """A Milvus Lite folder, not a server URL."""
    return not uri.startswith(("http://", "https://", "tcp://", "unix:"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_lite_server(data_dir: str, timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    """Serve a Milvus Lite folder on loopback (`milvus-lite server`); the caller stops it."""
    Path(data_dir).parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", data_dir]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    log_path = Path(data_dir).with_suffix(".server.log")
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = log_path.read_text("utf-8", "replace")[-500:]
            raise IndexStateError(f"milvus-lite server for {data_dir} exited: {error}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise IndexStateError(f"milvus-lite server for {data_dir} did not start in {timeout:.0f}s")
