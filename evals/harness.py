"""Helpers shared by the evals scripts and the tests that drive them: timings, process
memory, free ports, and a real `rag serve` process started and waited for until ready.

They live here, not in `rag/`, because only the benchmark, the load and crash runs and
their tests need them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rag.config import Settings
from rag.evaluation import percentile


# -- timings, memory, ports ----------------------------------------------------------------
def latency_stats(ms: list[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of latencies in milliseconds (same percentile as `rag eval`)."""
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 3),
        "p95": round(percentile(ms, 95), 3),
        "p99": round(percentile(ms, 99), 3),
        "mean": round(sum(ms) / len(ms), 3) if ms else 0.0,
    }


def timed_ms(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """(milliseconds, value) of one call."""
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, value


def each_ms(fn: Callable[..., Any], items: list, *args: Any, **kwargs: Any) -> list[float]:
    """Milliseconds of fn(item, *args, **kwargs) for each item, one after the other."""
    return [timed_ms(fn, item, *args, **kwargs)[0] for item in items]


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size from /proc (what the OS has to keep in RAM for the process)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def folder_mb(path: Path) -> float:
    """Size on disk of a file or a folder's files, in MB (what an index costs to keep)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 2)


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it), for a server started next."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- a real `rag serve` process ------------------------------------------------------------
def server_command(port: int) -> list[str]:
    """`rag serve` from this environment (the console script when installed)."""
    script = Path(sys.executable).with_name("rag")
    if script.exists():
        return [str(script), "serve", "--host", "127.0.0.1", "--port", str(port)]
    code = "from rag.cli import app; app()"
    return [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port)]


def server_env(settings: Settings) -> dict[str, str]:
    """The settings as RAG_* variables, so the server runs with exactly these."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is None:  # unset (e.g. prompts_dir: the packaged prompts)
            continue
        env[f"RAG_{name.upper()}"] = str(value.resolve() if isinstance(value, Path) else value)
    return env


@dataclass
class Server:
    url: str
    pid: int
    ready_seconds: float
    headers: dict[str, str]


@contextmanager
def running_server(settings: Settings, log_path: Path, timeout: float = 180.0) -> Iterator[Server]:
    """Start `rag serve` over `settings.index_dir`, wait for /readyz 200, stop it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            server_command(port), env=server_env(settings), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            ready = wait_ready(url, process, timeout)
            if ready is None:
                tail = log_path.read_text("utf-8", "replace")[-2000:]
                raise RuntimeError(f"`rag serve` was not ready within {timeout:.0f}s:\n{tail}")
            yield Server(url, process.pid, round(ready - started, 2), headers)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(url: str, process: subprocess.Popen, timeout: float) -> float | None:
    """perf_counter() when /readyz first answered 200, None on timeout or server exit."""
    deadline = time.perf_counter() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.perf_counter() < deadline and process.poll() is None:
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    return time.perf_counter()
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    return None
