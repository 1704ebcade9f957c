"""Corpus changes as background jobs: 202 then progress to done, failures with their
reason, order kept, answers served while a job runs, a full queue refused, and a job a
crash left finished by the next start (real server, real embedder, private index copy)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from rag.api import create_app
from rag.config import Settings
from rag.corpus.changes import BACKUP_PREFIX, FolderChange
from rag.corpus.files import corpus_checksum
from rag.embedding import Embedder
from rag.index import Manifest, load_index
from rag.index.generations import current_generation
from rag.jobs import Job, JobStore
from rag.services import Services
from tests.api_server import serve
from tests.test_api_updates import ask, live_server
from tests.test_updates import CLINIC_FILE, CLINIC_QUESTION, CLINIC_TEXT, CLINIC_TITLE

SEED_QUESTION = "北塔区村党组织书记的待遇提高了多少?"
# A long upload: many distinct paragraphs, so the job has many passages to embed.
BIG_TEXT = "\n\n".join(
    f"第{i}段。白水镇今年修建村道{i}公里，新建文化广场{i % 7 + 1}个，群众出行更加方便。"
    for i in range(60)
)


class GatedEmbedder:
    """The real embedder, whose passage embedding (index builds only) waits for `gate`:
    a test can hold a job in its running state, while queries go straight through."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.gate = threading.Event()
        self.entered = threading.Event()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        self.entered.set()
        assert self.gate.wait(120), "the test never opened the gate"
        return self.inner.embed_passages(texts)


@contextmanager
def gated_server(settings: Settings, embedder: Embedder) -> Iterator[tuple[httpx.Client, Any]]:
    gated = GatedEmbedder(embedder)
    own = Services.from_parts(settings, gated, load_index(settings.index_dir))
    try:
        with (
            serve(create_app(settings, services=own)) as url,
            httpx.Client(base_url=url, timeout=120) as http,
        ):
            yield http, gated
    finally:
        gated.gate.set()  # never leave a job waiting


def finished(http: httpx.Client, job_id: str, seconds: float = 300) -> dict[str, Any]:
    """Poll the job until it is done or failed."""
    deadline = time.monotonic() + seconds
    while True:
        response = http.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if job["state"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} is still {job['state']}"
        time.sleep(0.1)


def accepted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["state"] in ("queued", "running")
    return job


def test_an_upload_is_accepted_then_indexed_with_progress(index_copy, services):
    with live_server(index_copy, services) as http:
        body = {"title": CLINIC_TITLE, "text": CLINIC_TEXT, "source": "clinic.md"}
        job = accepted(http.post("/v1/documents", json=body))
        assert job["kind"] == "add" and job["source"] == "clinic.md"
        # Stored before the answer: the upload waits beside its job record.
        assert (Path(index_copy.index_dir) / "jobs" / f"{job['id']}.json").is_file()
        done = finished(http, job["id"])
        assert done["state"] == "done" and done["error"] is None, done
        assert done["progress"]["total"] > 0
        assert done["progress"]["done"] == done["progress"]["total"]
        assert done["started_at"] >= done["created_at"] and done["finished_at"]
        (document,) = done["result"]["documents"]
        assert done["result"]["status"] == "added" and document["source"] == "clinic.md"
        # Done means served: the article answers now.
        answer = ask(http, CLINIC_QUESTION)
        assert answer["answerable"]
        assert answer["citations"][0]["doc_id"] == document["doc_id"]
        recent = http.get("/v1/jobs").json()["jobs"]
        assert recent[0]["id"] == job["id"] and recent[0]["state"] == "done"
        assert not (Path(index_copy.index_dir) / "jobs" / f"{job['id']}.upload").exists()
        missing = http.get(f"/v1/jobs/{'0' * 32}")
        assert missing.status_code == 404 and "no job" in missing.json()["detail"]
        assert http.get("/v1/jobs/../../etc").status_code == 404


def test_jobs_run_in_order_and_a_failure_says_why(index_copy, embedder):
    texts = [f"白水镇第{n}批新建了{n + 3}个村卫生室。" for n in range(3)]
    with gated_server(index_copy, embedder) as (http, gated):
        victim = http.get("/v1/documents").json()["documents"][0]["doc_id"]
        jobs = [
            accepted(
                http.post("/v1/documents", json={"title": "白水镇", "text": t, "source": "o.md"})
            )
            for t in texts
        ]
        assert gated.entered.wait(60)  # the first runs (held); the rest wait behind it
        # Two removals of one article, both accepted while it exists: the second fails.
        first = accepted(http.delete(f"/v1/documents/{victim}"))
        second = accepted(http.delete(f"/v1/documents/{victim}"))
        assert first["kind"] == "remove" and first["doc_id"] == victim
        assert [j["state"] for j in (*jobs[1:], first, second)] == ["queued"] * 4
        gated.gate.set()
        results = [finished(http, j["id"]) for j in (*jobs, first, second)]
        for before, after in zip(results, results[1:], strict=False):
            assert before["finished_at"] <= after["started_at"]
        adds = [r["result"]["status"] for r in results[:3]]
        assert adds == ["added", "replaced", "replaced"]
        doc_id = results[2]["result"]["documents"][0]["doc_id"]
        assert texts[-1] in http.get(f"/v1/documents/{doc_id}").json()["text"]
        assert results[3]["state"] == "done" and results[3]["result"]["doc_id"] == victim
        failed = results[4]
        assert failed["state"] == "failed" and failed["result"] is None
        assert f"no document with id '{victim}'" in failed["error"]
        assert http.get(f"/v1/documents/{victim}").status_code == 404
        unknown = http.delete(f"/v1/documents/{victim}")  # known to be gone: no job
        assert unknown.status_code == 404 and victim in unknown.json()["detail"]


def test_answers_are_served_while_a_big_upload_runs(index_copy, embedder):
    settings = index_copy.model_copy(update={"max_queued_writes": 1})
    with gated_server(settings, embedder) as (http, gated):
        before = current_generation(settings.index_dir)
        big = {"title": "白水镇村道建设", "text": BIG_TEXT, "source": "big.md"}
        job = accepted(http.post("/v1/documents", json=big))
        assert gated.entered.wait(60), "the job never started embedding"
        running = http.get(f"/v1/jobs/{job['id']}").json()
        assert running["state"] == "running" and running["progress"]["total"] > 0
        answer = ask(http, SEED_QUESTION)
        assert answer["answerable"] and answer["citations"]
        hits = http.get("/v1/search", params={"q": "村道", "k": 3})
        assert hits.status_code == 200 and hits.json()["hits"]
        assert http.get(f"/v1/jobs/{job['id']}").json()["state"] == "running"
        assert current_generation(settings.index_dir) == before  # nothing published yet
        # One more waits; beyond the queue bound, a 503 with Retry-After.
        queued = accepted(http.post("/v1/documents", json={**big, "source": "big2.md"}))
        assert queued["state"] == "queued"
        full = http.post("/v1/documents", json={**big, "source": "big3.md"})
        assert full.status_code == 503 and int(full.headers["retry-after"]) >= 1
        assert "corpus changes are waiting" in full.json()["detail"]
        gated.gate.set()
        done = finished(http, job["id"])
        assert done["state"] == "done", done
        assert done["progress"]["done"] == done["progress"]["total"] > 0
        assert finished(http, queued["id"])["state"] == "done"
        assert {"big.md", "big2.md"} <= set(
            Manifest.load(current_generation(settings.index_dir)).files
        )
        assert not (Path(settings.source_dir) / "big3.md").exists()


def test_a_restart_finishes_the_job_a_crash_left(index_copy, services):
    """As a process killed mid-job leaves it: the job record says running, its upload is
    staged, the folder change is half done (file written, backup and journal beside it,
    no generation published). Another job is owned by a live worker (its lock held)."""
    folder = Path(index_copy.source_dir)
    store = JobStore(Path(index_copy.index_dir) / "jobs", kept=100)
    store.folder.mkdir(parents=True, exist_ok=True)
    crashed = Job(kind="add", source="crash.md", state="running")
    store.stage(crashed.id, CLINIC_FILE)
    store.save(crashed)
    FolderChange(folder).write("crash.md", CLINIC_FILE)  # never discarded: the crash
    assert list(folder.glob(f"{BACKUP_PREFIX}*"))
    owned = Job(kind="add", source="owned.md")
    store.stage(owned.id, CLINIC_FILE)
    store.save(owned)
    lock = store.claim(owned.id)
    assert lock is not None
    try:
        with live_server(index_copy, services) as http:
            done = finished(http, crashed.id)
            assert done["state"] == "done", done
            # The half-done change was rolled back first, then the job ran again.
            assert done["result"]["status"] == "added"
            assert not list(folder.glob(f"{BACKUP_PREFIX}*"))
            live = Manifest.load(current_generation(index_copy.index_dir))
            assert live.corpus_checksum == corpus_checksum(folder)
            assert "crash.md" in live.files
            assert ask(http, CLINIC_QUESTION)["answerable"]
            # A job a live worker owns is left to it.
            assert http.get(f"/v1/jobs/{owned.id}").json()["state"] == "queued"
            assert not (folder / "owned.md").exists()
    finally:
        lock.close()
