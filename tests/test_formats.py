"""PDF, Word and HTML files: read into articles with exact offsets (and pages for PDFs),
cached by content, and answered with citations once added over HTTP or the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.chunking import ChunkingParams, chunk_document
from rag.cli import app as cli_app
from rag.corpus import extracted as extracted_module
from rag.corpus import read_corpus
from rag.corpus.files import parse_cached
from rag.corpus.formats import MAX_TITLE_CHARS
from rag.schemas import Document
from tests.make_files import (
    CHROME,
    PAGE_PARAGRAPHS,
    PAGE_QUESTION,
    PAGE_TITLE,
    REPORT_PAGE_1,
    REPORT_PAGE_2,
    REPORT_QUESTION,
    REPORT_TITLE,
    WORD_HEADING,
    WORD_PARAGRAPH,
    WORD_QUESTION,
    WORD_TITLE,
    news_page,
    pdf_bytes,
    report_pdf,
    word_bytes,
)
from tests.test_api_updates import ask, live_server

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
ANSWER = "白沙镇今年建成农村生活污水处理站14座"


def only(documents: list[Document]) -> Document:
    assert len(documents) == 1, [d.title for d in documents]
    return documents[0]


def assert_exact_chunks(document: Document) -> None:
    for chunk in chunk_document(document, ChunkingParams()):
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert chunk.page == document.page_at(chunk.start)


def test_pdf_text_layer_with_pages_sections_and_rejoined_lines():
    document = only(parse_cached(report_pdf(), "report.pdf"))
    assert document.title == REPORT_TITLE
    assert [s.title for s in document.sections] == ["一、总体情况", "二、污水治理"]
    # Paragraphs wrapped mid-sentence on the page come back whole; page numbers are gone.
    for paragraph in [*REPORT_PAGE_1[1:], *REPORT_PAGE_2[1:]]:
        assert paragraph in document.text.split("\n")
    assert "- 1 -" not in document.text and "- 2 -" not in document.text
    assert len(document.pages) == 2 and document.pages[0] == 0
    assert document.page_at(document.text.index(ANSWER)) == 2
    assert document.page_at(document.text.index("拆除危旧房屋")) == 1
    assert "author" not in document.metadata  # reportlab's "anonymous" is no author
    chunks = chunk_document(document, ChunkingParams())
    assert {c.page for c in chunks if "14座" in c.text} == {2}
    assert_exact_chunks(document)


def test_pdf_title_wrapped_onto_two_lines_is_one_title():
    lines = [("青山县2023年度乡村振兴", 18), ("工作总结报告", 18), ("一、总体情况", 14)]
    document = only(parse_cached(pdf_bytes([[*lines, REPORT_PAGE_1[1]]]), "wrapped.pdf"))
    assert document.title == "青山县2023年度乡村振兴工作总结报告"
    assert [s.title for s in document.sections] == ["一、总体情况"]


def test_pdf_set_in_one_size_tells_headings_by_their_shape():
    data = pdf_bytes([[("二、污水治理", 11), REPORT_PAGE_2[1], REPORT_PAGE_2[2]]])
    document = only(parse_cached(data, "plain.pdf"))
    assert document.title == "二、污水治理"
    assert REPORT_PAGE_2[1] in document.text.split("\n")
    assert document.pages == [0]


def test_word_paragraphs_headings_and_table_rows():
    document = only(parse_cached(word_bytes(), "roads.docx"))
    assert document.title == WORD_TITLE
    assert WORD_HEADING in [s.title for s in document.sections]
    lines = document.text.split("\n")
    assert WORD_PARAGRAPH in lines
    assert "上坪村 | 9公里 | 420户" in lines and "村名 | 硬化里程 | 受益户数" in lines
    assert document.pages == [] and document.page_at(0) is None
    assert "author" not in document.metadata  # python-docx's own "python-docx" is no author
    assert all(c.page is None for c in chunk_document(document, ChunkingParams()))
    assert_exact_chunks(document)


def test_html_news_page_without_its_chrome_with_date_byline_and_site():
    document = only(parse_cached(news_page(), "clinics.html"))
    assert document.title == PAGE_TITLE
    assert document.text.split("\n") == PAGE_PARAGRAPHS
    for chrome in CHROME:
        assert chrome not in document.text
    assert document.metadata["date"] == "2023-06-18"
    assert document.metadata["site"] == "青山日报"
    assert "李明" in document.metadata["author"]
    assert_exact_chunks(document)


def test_html_page_with_several_articles_is_split():
    second = (
        "<article><h1>东坪乡26公里村道全部硬化</h1>"
        f"<p>{WORD_PARAGRAPH}</p><p>乡党委书记说，明年还将争取资金，把通组路也全部硬化。</p>"
        "</article>"
    )
    page = news_page().replace(b'<div class="comments">', second.encode() + b"<div")
    documents = parse_cached(page, "two.html")
    assert [d.title for d in documents] == [PAGE_TITLE, "东坪乡26公里村道全部硬化"]
    assert len({d.doc_id for d in documents}) == 2
    assert documents[1].text.split("\n")[0] == WORD_PARAGRAPH


def test_extracted_titles_are_cut_to_the_limit():
    long_title = "青山县" + "乡村振兴" * 100
    document = only(parse_cached(news_page(title=long_title), "long.html"))
    assert len(document.title) == MAX_TITLE_CHARS and document.title.endswith("…")
    assert document.title.startswith("青山县乡村振兴")


def test_extraction_is_cached_by_content_hash(tmp_path, monkeypatch):
    calls: list[str] = []
    read = extracted_module.read_bytes

    def counting(data: bytes, name: str, limits) -> list[Document]:  # noqa: ANN001
        calls.append(name)
        return read(data, name, limits)

    monkeypatch.setattr(extracted_module, "read_bytes", counting)
    (tmp_path / "report.pdf").write_bytes(pdf_bytes([[("缓存测试", 14), REPORT_PAGE_2[1]]]))
    (tmp_path / "cached.docx").write_bytes(word_bytes())
    first = read_corpus(tmp_path)
    assert sorted(calls) == ["cached.docx", "report.pdf"]
    again = read_corpus(tmp_path)
    assert sorted(calls) == ["cached.docx", "report.pdf"]  # nothing parsed again
    assert [d.model_dump() for d in again.documents] == [d.model_dump() for d in first.documents]
    (tmp_path / "report.pdf").write_bytes(pdf_bytes([[("缓存测试", 14), REPORT_PAGE_1[1]]]))
    changed = read_corpus(tmp_path)
    assert sorted(calls) == ["cached.docx", "report.pdf", "report.pdf"]  # only the changed one
    pdf = next(d for d in changed.documents if d.source == "report.pdf")
    assert REPORT_PAGE_1[1] in pdf.text


def upload(http, name: str, data: bytes):  # noqa: ANN001, ANN201
    return http.post("/v1/documents", params={"wait": "true"}, files={"file": (name, data)})


@pytest.mark.parametrize("suffix", [".html", ".htm"])
def test_html_suffixes_are_both_read(suffix):
    assert only(parse_cached(news_page(), f"page{suffix}")).title == PAGE_TITLE


def test_html_page_in_gbk_is_read_by_its_declared_charset():
    page = news_page().decode().replace('charset="utf-8"', 'charset="gbk"').encode("gbk")
    document = only(parse_cached(page, "gbk.html"))
    assert document.title == PAGE_TITLE and document.text.split("\n") == PAGE_PARAGRAPHS


def test_pdf_docx_and_html_uploaded_over_http_are_answered_with_citations(index_copy, services):
    files = {
        "report.pdf": (report_pdf(), REPORT_QUESTION, "14座"),
        "roads.docx": (word_bytes(), WORD_QUESTION, "26公里"),
        "clinics.html": (news_page(), PAGE_QUESTION, "37个"),
    }
    with live_server(index_copy, services) as http:
        doc_ids = {}
        for name, (data, _, _) in files.items():
            response = upload(http, name, data)
            assert response.status_code == 201, response.text
            assert response.json()["status"] == "added"
            doc_ids[name] = response.json()["documents"][0]["doc_id"]
            # The original file is what the corpus folder keeps.
            assert (index_copy.source_dir / name).read_bytes() == data
        for name, (_, question, fact) in files.items():
            answer = ask(http, question)
            assert answer["answerable"], (name, answer)
            cited = [c for c in answer["citations"] if c["doc_id"] == doc_ids[name]]
            assert cited and any(fact in c["text"] for c in cited), (name, answer)
            document = http.get(f"/v1/documents/{doc_ids[name]}").json()
            for citation in cited:
                assert document["text"][citation["start"] : citation["end"]] == citation["text"]
            if name == "report.pdf":
                assert {c["page"] for c in cited if fact in c["text"]} == {2}
                assert len(document["pages"]) == 2
            else:
                assert {c["page"] for c in cited} == {None} and document["pages"] == []
            if name == "clinics.html":
                for chrome in CHROME:
                    assert all(chrome not in c["text"] for c in cited), chrome
        hits = http.get("/v1/search", params={"q": "污水处理站 14座"}).json()["hits"]
        assert hits[0]["doc_id"] == doc_ids["report.pdf"] and hits[0]["page"] == 2


def test_cli_add_ingest_and_ask_show_the_page(index_copy, tmp_path):
    where = ["--source", str(index_copy.source_dir), "--index", str(index_copy.index_dir)]
    (tmp_path / "report.pdf").write_bytes(report_pdf())
    added = runner.invoke(cli_app, ["add", str(tmp_path / "report.pdf"), *where])
    assert added.exit_code == 0, added.output
    assert "added report.pdf: 1 article" in added.output and REPORT_TITLE in added.output

    (index_copy.source_dir / "roads.docx").write_bytes(word_bytes())
    ingested = runner.invoke(cli_app, ["ingest", *where])
    assert ingested.exit_code == 0, ingested.output
    assert "roads.docx" in ingested.output and "report.pdf" in ingested.output

    asked = runner.invoke(
        cli_app,
        ["ask", REPORT_QUESTION, "--index", str(index_copy.index_dir)],
        env={"RAG_SOURCE_DIR": str(index_copy.source_dir)},
    )
    assert asked.exit_code == 0, asked.output
    assert "(report.pdf, p. 2)" in asked.output and "14座" in asked.output
    listed = runner.invoke(cli_app, ["list", "--json", "--index", str(index_copy.index_dir)])
    titles = {d["source"]: d["title"] for d in json.loads(listed.stdout)}
    assert titles["report.pdf"] == REPORT_TITLE and titles["roads.docx"] == WORD_TITLE


# Run in a fresh process (an empty in-memory cache): a forced rebuild reads no file again.
REBUILD_COUNTING_READS = """
import json, sys
import rag.corpus.extracted as extracted
from rag.config import Settings
from rag.documents import rebuild
from rag.embedding import build_embedder
calls = []
read = extracted.read_bytes
extracted.read_bytes = lambda data, name, limits: calls.append(name) or read(data, name, limits)
settings = Settings(source_dir=sys.argv[1], index_dir=sys.argv[2], _env_file=None)
report = rebuild(settings, build_embedder(settings))
print(json.dumps({"reads": calls, "files": report.manifest.files}))
"""


def test_a_rebuild_in_another_process_reuses_the_saved_extractions(index_copy, embedder):
    from rag.corpus.uploads import prepare_upload
    from rag.documents import add_documents

    upload = prepare_upload("report.pdf", report_pdf(), limit=index_copy.max_upload_bytes)
    add_documents(index_copy, embedder, [upload])
    (index_copy.source_dir / "roads.docx").write_bytes(word_bytes())  # new: read once
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            REBUILD_COUNTING_READS,
            str(index_copy.source_dir),
            str(index_copy.index_dir),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "report.pdf" in result["files"] and "roads.docx" in result["files"]
    assert result["reads"] == ["roads.docx"]
