"""Corpus updates over HTTP: a real uvicorn server on a private copy of the seed index."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from rag.cli import app as cli_app
from rag.index import load_index
from rag.index.generations import current_generation
from rag.services import Services
from tests.api_server import start_server
from tests.test_updates import (
    CLINIC_FILE,
    CLINIC_METADATA,
    CLINIC_QUESTION,
    CLINIC_TEXT,
    CLINIC_TITLE,
    folder_state,
    live_store,
)


@contextmanager
def live_server(index_copy, services: Services, **changes: Any) -> Iterator[httpx.Client]:
    """A server over the private index copy (the session embedder, no reload of it)."""
    own = Services.from_parts(index_copy, services.embedder, load_index(index_copy.index_dir))
    with start_server(own, **changes) as url, httpx.Client(base_url=url, timeout=120) as http:
        yield http


def upload(http: httpx.Client, name: str, data: bytes, metadata: dict | None = None):
    fields = {"metadata": json.dumps(metadata, ensure_ascii=False)} if metadata else None
    return http.post(
        "/v1/documents?wait=true", files={"file": (name, data, "text/markdown")}, data=fields
    )


def ask(http: httpx.Client, question: str, **extra: Any) -> dict[str, Any]:
    response = http.post("/v1/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(predicate, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the server did not pick up the change"
        time.sleep(0.2)


def test_upload_a_file_then_ask_filter_and_delete(index_copy, services):
    with live_server(index_copy, services) as http:
        response = upload(http, "青山县卫生室.md", CLINIC_FILE, CLINIC_METADATA)
        assert response.status_code == 201, response.text
        added = response.json()
        assert added["status"] == "added" and added["source"] == "青山县卫生室.md"
        (document,) = added["documents"]
        assert set(document) == {"doc_id", "source", "title", "chunks"}
        assert document["title"] == CLINIC_TITLE and document["chunks"] >= 1
        doc_id = document["doc_id"]

        answer = ask(http, CLINIC_QUESTION)
        assert answer["answerable"] and "37个" in answer["answer"]
        assert answer["citations"][0]["doc_id"] == doc_id
        text = http.get(f"/v1/documents/{doc_id}").json()["text"]
        for citation in answer["citations"]:
            if citation["doc_id"] == doc_id:
                assert text[citation["start"] : citation["end"]] == citation["text"]

        # The upload's metadata is a filter like the metadata read from the text.
        hits = http.get("/v1/search", params={"q": "卫生室 党员", "place": "青山县"}).json()
        assert hits["hits"] and {h["doc_id"] for h in hits["hits"]} == {doc_id}
        filtered = ask(http, CLINIC_QUESTION, filters={"place": ["青山县"], "since": "2023-01"})
        assert filtered["answerable"]
        assert {c["doc_id"] for c in filtered["citations"]} == {doc_id}
        elsewhere = ask(http, CLINIC_QUESTION, filters={"place": ["桂阳县"]})
        assert doc_id not in {c["doc_id"] for c in elsewhere["citations"]}

        deleted = http.delete(f"/v1/documents/{doc_id}?wait=true")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["file_deleted"] is True
        assert not (index_copy.source_dir / "青山县卫生室.md").exists()
        refused = ask(http, CLINIC_QUESTION)
        assert refused["answerable"] is False and refused["citations"] == []
        assert http.get(f"/v1/documents/{doc_id}").status_code == 404
        again = http.delete(f"/v1/documents/{doc_id}?wait=true")
        assert again.status_code == 404 and doc_id in again.json()["detail"]


def test_json_upload_is_idempotent_and_a_change_replaces(index_copy, services, tmp_path):
    body = {
        "title": CLINIC_TITLE,
        "text": CLINIC_TEXT,
        "source": "../../青山县卫生室.md",  # reduced to a base name inside the corpus folder
        "metadata": CLINIC_METADATA,
    }
    with live_server(index_copy, services) as http:
        first = http.post("/v1/documents?wait=true", json=body)
        assert first.status_code == 201, first.text
        assert first.json()["status"] == "added"
        assert first.json()["source"] == "青山县卫生室.md"
        assert (index_copy.source_dir / "青山县卫生室.md").read_bytes() == CLINIC_FILE
        assert not (tmp_path / "青山县卫生室.md").exists()
        assert not (tmp_path.parent / "青山县卫生室.md").exists()
        ids = [d["doc_id"] for d in first.json()["documents"]]

        again = http.post("/v1/documents?wait=true", json=body)
        assert again.status_code == 201
        assert again.json()["status"] == "unchanged" and again.json()["embedded"] == 0
        assert [d["doc_id"] for d in again.json()["documents"]] == ids
        listed = [d["doc_id"] for d in http.get("/v1/documents").json()["documents"]]
        assert len(listed) == len(set(listed)) == 12

        changed = {**body, "text": CLINIC_TEXT.replace("37个", "41个")}
        replaced = http.post("/v1/documents?wait=true", json=changed)
        assert replaced.status_code == 201
        assert replaced.json()["status"] == "replaced"
        assert [d["doc_id"] for d in replaced.json()["documents"]] == ids
        assert len(http.get("/v1/documents").json()["documents"]) == 12
        answer = ask(http, CLINIC_QUESTION)
        assert (
            answer["answerable"] and "41个" in answer["answer"] and "37个" not in answer["answer"]
        )


def test_bad_uploads_get_a_clear_4xx_and_change_nothing(index_copy, services, tmp_path):
    limit = 4096
    good_md = CLINIC_FILE
    big = "# 很长的文章\n\n".encode() + "某县今年修建村道十二公里,群众出行更方便。\n".encode() * 200
    assert limit < len(big) < limit + 64 * 1024  # read whole, then measured
    huge = b"x" * (2 * limit + 70 * 1024)  # over the early Content-Length check
    state = folder_state(index_copy.source_dir)
    live = current_generation(index_copy.index_dir)
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("too large", {"files": {"file": ("big.md", big)}}, 413, f"limit of {limit} bytes"),
        ("too large early", {"files": {"file": ("big.md", huge)}}, 413, f"limit of {limit}"),
        (
            "too large json",
            {"json": {"title": "长文", "text": "正文。" * 2000}},
            413,
            f"limit of {limit} bytes",
        ),
        (
            "not utf-8",
            {"files": {"file": ("gbk.txt", "# 标题\n\n正文。".encode("gbk"))}},
            422,
            "UTF-8",
        ),
        ("empty", {"files": {"file": ("empty.md", b"")}}, 422, "empty"),
        ("binary", {"files": {"file": ("photo.md", b"\x89PNG\r\n\x1a\n\x00\x00")}}, 422, "binary"),
        ("pdf", {"files": {"file": ("report.pdf", good_md)}}, 422, "not a PDF"),
        ("xlsx", {"files": {"file": ("sheet.xlsx", good_md)}}, 422, "'.xlsx' files are not"),
        ("dotdot", {"files": {"file": ("../../etc/passwd", good_md)}}, 422, "no extension"),
        ("absolute", {"files": {"file": ("/etc/passwd", good_md)}}, 422, "no extension"),
        ("nul", {"json": {"title": "t", "text": "正文。", "source": "a.md\x00.sh"}}, 422, ".sh"),
        ("only dots", {"files": {"file": ("..", good_md)}}, 422, "no usable name"),
        ("headings only", {"files": {"file": ("h.md", "# 标题\n".encode())}}, 422, "no article"),
        (
            "bad metadata",
            {"files": {"file": ("ok.md", good_md)}, "data": {"metadata": "{place"}},
            422,
            "metadata is not valid JSON",
        ),
        (
            "bad date",
            {"files": {"file": ("ok.md", good_md)}, "data": {"metadata": '{"date": "June"}'}},
            422,
            "not a date",
        ),
        ("no file field", {"files": {"upload": ("ok.md", good_md)}}, 422, "'file'"),
        ("json missing text", {"json": {"title": "t"}}, 422, "text"),
        ("json extra field", {"json": {"title": "t", "text": "x。", "tags": []}}, 422, "tags"),
        (
            "malformed json",
            {"content": b"{", "headers": {"content-type": "application/json"}},
            422,
            "JSON",
        ),
        (
            "plain text body",
            {"content": good_md, "headers": {"content-type": "text/plain"}},
            422,
            "content type",
        ),
    ]
    with live_server(index_copy, services, max_upload_bytes=limit) as http:
        for name, request, status, fragment in cases:
            response = http.post("/v1/documents", **request)
            assert response.status_code == status, (name, response.text)
            assert fragment in response.json()["detail"], (name, response.json())
        assert len(http.get("/v1/documents").json()["documents"]) == 11
    assert folder_state(index_copy.source_dir) == state
    assert current_generation(index_copy.index_dir) == live
    assert not (tmp_path / "etc").exists() and not Path(tmp_path.parent / "passwd").exists()


def test_searches_during_an_upload_all_succeed_on_one_generation(index_copy, services):
    old = {c.chunk_id: c.text for c in live_store(index_copy).chunks}
    questions = ["村卫生室有多少个?", "党员干部包片包干", "乡村振兴人才", "网格员", "产学研合作"]
    started = threading.Event()

    with live_server(index_copy, services) as http:
        url = str(http.base_url)

        def search(i: int) -> list[dict[str, Any]]:
            started.wait(10)
            time.sleep(0.15 * (i % 10))
            with httpx.Client(base_url=url, timeout=120) as client:
                response = client.get("/v1/search", params={"q": questions[i % 5], "k": 5})
            assert response.status_code == 200, response.text
            return response.json()["hits"]

        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(search, i) for i in range(20)]
            started.set()
            added = upload(http, "青山县卫生室.md", CLINIC_FILE, CLINIC_METADATA)
            results = [f.result(timeout=120) for f in futures]
        assert added.status_code == 201, added.text
        new = {c.chunk_id: c.text for c in live_store(index_copy).chunks}
        assert len(results) == 20
        for hits in results:
            assert hits
            # Every hit comes from one generation, old or new, text and all.
            pairs = {(h["chunk_id"], h["text"]) for h in hits}
            assert pairs <= set(old.items()) or pairs <= set(new.items())
        after = http.get("/v1/search", params={"q": CLINIC_QUESTION, "k": 1}).json()["hits"]
        assert after[0]["doc_id"] == added.json()["documents"][0]["doc_id"]


def test_the_server_picks_up_changes_made_with_the_cli(index_copy, services, tmp_path):
    article = tmp_path / "青山县卫生室.md"
    article.write_bytes(CLINIC_FILE)
    where = ["--source", str(index_copy.source_dir), "--index", str(index_copy.index_dir)]
    runner = CliRunner()
    with live_server(index_copy, services) as http:
        assert not ask(http, CLINIC_QUESTION)["answerable"]

        result = runner.invoke(
            cli_app,
            [
                "add",
                str(article),
                "--metadata",
                "place=青山县",
                "--metadata",
                "date=2023-06",
                *where,
            ],
        )
        assert result.exit_code == 0, result.output
        assert "added 青山县卫生室.md: 1 article" in result.output
        listed = runner.invoke(cli_app, ["list", "--json", "--index", str(index_copy.index_dir)])
        (row,) = [d for d in json.loads(listed.stdout) if d["source"] == "青山县卫生室.md"]
        assert row["place"] == "青山县" and row["date"] == "2023-06" and row["chunks"] >= 1

        wait_for(lambda: len(http.get("/v1/documents").json()["documents"]) == 12)
        answer = ask(http, CLINIC_QUESTION)
        assert answer["answerable"] and answer["citations"][0]["doc_id"] == row["doc_id"]

        result = runner.invoke(cli_app, ["remove", row["doc_id"], *where])
        assert result.exit_code == 0, result.output
        assert "file deleted" in result.output
        wait_for(lambda: len(http.get("/v1/documents").json()["documents"]) == 11)
        assert not ask(http, CLINIC_QUESTION)["answerable"]


def test_filters_narrow_results_and_bad_filters_are_rejected(api_url):
    with httpx.Client(base_url=api_url, timeout=60) as http:
        everything = http.get("/v1/search", params={"q": "党员干部", "k": 20}).json()["hits"]
        places = http.get("/v1/search", params={"q": "党员干部", "k": 20, "place": "桂阳县"})
        assert places.status_code == 200
        hits = places.json()["hits"]
        assert hits and {h["source"] for h in hits} == {"003_181a4f7009783c53.txt"}
        assert len({h["doc_id"] for h in everything}) > 1

        recent = http.get("/v1/search", params={"q": "党员干部", "k": 20, "since": "2021-06"})
        documents = {d["doc_id"]: d for d in http.get("/v1/documents").json()["documents"]}
        assert recent.status_code == 200 and recent.json()["hits"]
        # 2021-12 (浏阳), 2021 (北塔) and 2022 (苏仙) are on or after June 2021; 2020 is not.
        assert {h["doc_id"] for h in recent.json()["hits"]} <= {
            "a8cb6a3ab1bb",
            "52815a3e4d83",
            "f4bd96d51d8d",
        }
        assert all(h["doc_id"] in documents for h in recent.json()["hits"])
        old = http.get("/v1/search", params={"q": "党员干部", "until": "2019", "k": 20})
        assert {h["doc_id"] for h in old.json()["hits"]} == {"b034ee8dc7d4"}

        answer = http.post(
            "/v1/ask",
            json={"question": "城区划分了多少个网格?", "filters": {"place": "桂阳县"}},
        ).json()
        assert {c["source"] for c in answer["citations"]} <= {"003_181a4f7009783c53.txt"}

        for params, fragment in [
            ({"q": "党员", "since": "2021/06"}, "not a date"),
            ({"q": "党员", "until": "June"}, "not a date"),
        ]:
            response = http.get("/v1/search", params=params)
            assert response.status_code == 422, params
            assert fragment in response.json()["detail"]
        for filters, fragment in [
            ({"bogus": ["x"]}, "bogus"),
            ({"since": "2021-6"}, "not a date"),
            ({"place": 3}, "place"),
        ]:
            response = http.post("/v1/ask", json={"question": "党员有多少?", "filters": filters})
            assert response.status_code == 422, filters
            assert fragment in response.json()["detail"], response.json()
