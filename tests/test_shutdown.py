"""SIGTERM ends a busy `rag serve` within its graceful timeout, and an upload job it cut
short is finished by the next start: the half-done folder change is resolved from its
journal (as after kill -9: tests/test_crash_safety.py), then the job runs again.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx

from evals.harness import free_port, server_command, server_env, wait_ready
from rag.corpus.changes import BACKUP_PREFIX
from rag.corpus.files import corpus_checksum
from rag.documents import ensure_index
from rag.index import Manifest
from rag.index.generations import current_generation
from rag.services import Services, start_jobs
from tests.test_updates import CLINIC_TEXT, CLINIC_TITLE

# Many new passages: the build embeds them for several seconds, so SIGTERM lands in it.
LONG_UPLOAD = "\n\n".join(f"第{i}段。{CLINIC_TEXT}" for i in range(120))


def test_sigterm_ends_a_server_busy_with_an_upload_and_the_next_start_recovers(
    index_copy, embedder, tmp_path
):
    settings = index_copy.model_copy(update={"shutdown_seconds": 2})
    folder = Path(settings.source_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            server_command(port), env=server_env(settings), stdout=log, stderr=subprocess.STDOUT
        )
        try:
            assert wait_ready(url, process, 180) is not None, "rag serve did not start"
            body = {"title": CLINIC_TITLE, "text": LONG_UPLOAD, "source": "long.md"}
            accepted = httpx.post(f"{url}/v1/documents", json=body, timeout=60)
            assert accepted.status_code == 202, accepted.text
            job_id = accepted.json()["id"]
            deadline = time.monotonic() + 60
            while not any(folder.glob(f"{BACKUP_PREFIX}*")):  # the change has begun
                assert time.monotonic() < deadline, "the upload job never started"
                time.sleep(0.02)
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
            print(f"SIGTERM during an upload job: exit {code} after {time.monotonic() - sent:.1f}s")
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has stopped
    # The next start: the index is made current (the writer first resolves the change),
    # then the job runner takes over the unfinished job and runs it to the end.
    bundle, _ = ensure_index(settings, embedder, log=lambda message: None)
    runner = start_jobs(Services.from_parts(settings, embedder, bundle))
    try:
        deadline = time.monotonic() + 300
        while (job := runner.get(job_id)) is None or not job.finished:
            assert time.monotonic() < deadline, "the resumed job did not finish"
            time.sleep(0.1)
    finally:
        runner.close(60)
    assert job.state == "done", job.error
    assert job.result is not None and job.result.source == "long.md"
    live = Manifest.load(current_generation(settings.index_dir))
    assert live.corpus_checksum == corpus_checksum(folder)
    assert not list(folder.glob(f"{BACKUP_PREFIX}*"))
    assert "long.md" in live.files and (folder / "long.md").is_file()
