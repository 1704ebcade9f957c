"""Bad PDF, Word and HTML files: each is a clear 4xx (or CLI error) that changes nothing,
neither the corpus folder nor the index, byte for byte."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli import app as cli_app
from rag.corpus import read_corpus
from rag.corpus.formats import ReadLimits
from rag.corpus.uploads import prepare_json_upload, prepare_upload
from rag.errors import UnpackTooLargeError, UnreadableFileError, UploadError
from tests.make_files import (
    encrypted_pdf,
    news_page,
    report_pdf,
    scanned_pdf,
    zip_bomb_docx,
)
from tests.test_api_updates import live_server
from tests.test_updates import CLINIC_FILE, folder_state

LIMIT = 5 * 1024 * 1024
UNPACKED = 1024 * 1024  # a small unpack limit, so the zip bomb stays small and fast
LONG_TITLE = "青山县" * 100  # 300 characters


def not_a_word_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "not a Word document")
    return out.getvalue()


def cases() -> list[tuple[str, str, bytes, int, str]]:
    """(case, file name, bytes, HTTP status, message fragment)."""
    pdf = report_pdf()
    return [
        ("pdf holding text", "report.pdf", CLINIC_FILE, 422, "not a PDF: the file holds text"),
        ("docx holding text", "text.docx", CLINIC_FILE, 422, "not a Word document"),
        ("docx holding a pdf", "pdf.docx", pdf, 422, "the file holds a PDF"),
        ("html holding a pdf", "pdf.html", pdf, 422, "not an HTML page"),
        ("html without markup", "plain.html", "只是一段文字。".encode(), 422, "no HTML markup"),
        ("md holding a pdf", "notes.md", pdf, 422, "binary"),
        ("truncated pdf", "cut.pdf", pdf[: len(pdf) // 2], 422, "truncated"),
        ("corrupt pdf", "bad.pdf", pdf[:300] + b"\0junk" * 200 + pdf[-200:], 422, "corrupt"),
        ("encrypted pdf", "secret.pdf", encrypted_pdf(), 422, "encrypted"),
        ("scanned pdf", "scan.pdf", scanned_pdf(), 422, "no text layer: OCR is not supported"),
        ("corrupt docx", "bad.docx", b"PK\x03\x04" + b"\x00junk" * 100, 422, "corrupt .docx"),
        ("zip not docx", "other.docx", not_a_word_zip(), 422, "no word/document.xml"),
        ("zip bomb docx", "bomb.docx", zip_bomb_docx(2 * UNPACKED), 413, "RAG_MAX_UNPACKED"),
        ("html no article", "empty.html", news_page([]), 422, "no article text"),
        ("md long title", "long.md", f"# {LONG_TITLE}\n\n正文。\n".encode(), 422, "title is 300"),
    ]


@pytest.mark.parametrize(
    ("name", "data", "status", "fragment"),
    [case[1:] for case in cases()],
    ids=[case[0] for case in cases()],
)
def test_bad_files_are_refused_before_anything_is_stored(name, data, status, fragment):
    error = UnpackTooLargeError if status == 413 else UploadError
    with pytest.raises(error, match=fragment) as raised:
        prepare_upload(name, data, limit=LIMIT, unpacked_limit=UNPACKED)
    if name.endswith((".pdf", ".docx", ".html")) and status == 422:
        assert isinstance(raised.value, UnreadableFileError)


def test_given_titles_over_the_limit_are_refused():
    with pytest.raises(UploadError, match="title is 300 characters long; the limit is 200"):
        prepare_json_upload(LONG_TITLE, "正文。", limit=LIMIT)
    with pytest.raises(UploadError, match="a JSON upload is text"):
        prepare_json_upload("标题", "正文。", "report.pdf", limit=LIMIT)


def test_the_folder_reader_skips_bad_files_with_their_reason(tmp_path):
    (tmp_path / "good.pdf").write_bytes(report_pdf())
    bad = {name: (data, fragment) for _, name, data, _, fragment in cases()}
    del bad["long.md"]  # a title's limit is for uploads only
    for name, (data, _) in bad.items():
        (tmp_path / name).write_bytes(data)
    report = read_corpus(tmp_path, ReadLimits(max_unpacked_bytes=UNPACKED))
    assert report.files == ["good.pdf"]
    assert set(report.skipped) == set(bad)
    for name, (_, fragment) in bad.items():
        assert fragment in report.skipped[name], (name, report.skipped[name])


def tree_state(folder: Path) -> dict[str, str]:
    """Every file under `folder` (the index's generations too) with a digest of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_bad_files_over_http_are_4xx_and_change_nothing(index_copy, services):
    corpus = folder_state(index_copy.source_dir)
    index = tree_state(index_copy.index_dir)
    with live_server(index_copy, services, max_unpacked_bytes=UNPACKED) as http:
        for case, name, data, status, fragment in cases():
            response = http.post(
                "/v1/documents", params={"wait": "true"}, files={"file": (name, data)}
            )
            assert response.status_code == status, (case, response.text)
            assert fragment in response.json()["detail"], (case, response.json())
        long_title = http.post(
            "/v1/documents", params={"wait": "true"}, json={"title": LONG_TITLE, "text": "正文。"}
        )
        assert long_title.status_code == 422 and "limit is 200" in long_title.json()["detail"]
        assert len(http.get("/v1/documents").json()["documents"]) == 11
    assert folder_state(index_copy.source_dir) == corpus
    assert tree_state(index_copy.index_dir) == index


def test_cli_add_of_bad_files_exits_1_and_changes_nothing(index_copy, tmp_path):
    corpus = folder_state(index_copy.source_dir)
    index = tree_state(index_copy.index_dir)
    where = ["--source", str(index_copy.source_dir), "--index", str(index_copy.index_dir)]
    (tmp_path / "good.pdf").write_bytes(report_pdf())
    for case, name, data, _, fragment in cases():
        if name == "bomb.docx":
            continue  # needs the small unpack limit, below
        (tmp_path / name).write_bytes(data)
        # A bad file among good ones stops the whole command before anything is written.
        result = CliRunner().invoke(
            cli_app, ["add", str(tmp_path / "good.pdf"), str(tmp_path / name), *where]
        )
        assert result.exit_code == 1, (case, result.output)
        assert fragment in result.output, (case, result.output)
    (tmp_path / "bomb.docx").write_bytes(zip_bomb_docx(2 * UNPACKED))
    result = CliRunner().invoke(
        cli_app,
        ["add", str(tmp_path / "bomb.docx"), *where],
        env={"RAG_MAX_UNPACKED_BYTES": str(UNPACKED)},
    )
    assert result.exit_code == 1 and "RAG_MAX_UNPACKED_BYTES" in result.output
    assert folder_state(index_copy.source_dir) == corpus
    assert tree_state(index_copy.index_dir) == index
