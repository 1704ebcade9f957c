"""Hostile input: a fuzzed corpus reader, and requests built to break the service.

The reader may only fail with the project's own `CorpusError`; every bad request gets a
4xx with a message, and leaves the corpus folder and the index byte-for-byte as they were.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.corpus import read_corpus
from rag.corpus.articles import parse_articles
from rag.corpus.files import decode_text
from rag.errors import CorpusError
from tests.test_api_updates import live_server
from tests.test_updates import CLINIC_FILE

QUESTION = "北塔区村党组织书记的待遇提高了多少?"

# -- the corpus reader ----------------------------------------------------------------------

_lines = st.one_of(
    st.text(max_size=200),  # any Unicode, control characters and surrogates' neighbours
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Zl", "Zp"])),
    st.sampled_from(
        ["# 标题", "## 小节", "本报记者 张三", "图为村民。", "（完）", "责任编辑：李四"]
    ),
    st.builds(
        lambda ch, n: ch * n, st.sampled_from(["字", "a", "。", " ", "\t"]), st.integers(0, 20_000)
    ),
)
_texts = st.lists(_lines, max_size=30).map("\n".join)


def _encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


_files = st.one_of(
    _texts.map(str.encode),
    st.builds(_encoded, _texts, st.sampled_from(["gbk", "utf-16", "latin-1", "big5", "utf-8-sig"])),
    st.builds(lambda a, b: a.encode() + b.encode("gbk", "replace"), _texts, _texts),  # mixed
    st.binary(max_size=2000),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_files)
def test_decoding_and_parsing_fail_only_with_corpus_error(data: bytes) -> None:
    try:
        text = decode_text(data, "fuzz.txt")
    except CorpusError:
        return
    for document in parse_articles(text, "fuzz.txt"):
        assert document.text.strip()
        for section in document.sections:
            assert 0 <= section.start <= section.end <= len(document.text)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(files=st.lists(_files, min_size=1, max_size=4))
def test_reading_a_hostile_folder_skips_bad_files_with_reasons(tmp_path: Path, files) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for i, data in enumerate(files):
        (folder / f"{i}.txt").write_bytes(data)
    report = read_corpus(folder)
    assert set(report.files) | set(report.skipped) == {f"{i}.txt" for i in range(len(files))}
    assert all(reason for reason in report.skipped.values())


def test_an_unreadable_sidecar_is_a_corpus_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("# 标题\n\n白水镇新建了卫生室。\n")
    (tmp_path / ".rag-corpus.json").write_bytes(b'{"metadata": {"x": [1, 2]}, "removed": 7}')
    with pytest.raises(CorpusError, match="sidecar"):
        read_corpus(tmp_path)


# -- requests -------------------------------------------------------------------------------


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones included) by its hash: byte-for-byte state."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _chunked(data: bytes, size: int = 65536):
    for i in range(0, len(data), size):
        yield data[i : i + size]


LIMIT = 4096

# name, method, path, request keyword arguments, expected status, fragment of the message
BAD_REQUESTS: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    (
        "upload ../../etc/passwd",
        "POST",
        "/v1/documents",
        {"files": {"file": ("../../etc/passwd", CLINIC_FILE)}},
        422,
        "no extension",
    ),
    (
        "upload absolute path",
        "POST",
        "/v1/documents",
        {"files": {"file": ("/etc/cron.d/evil", CLINIC_FILE)}},
        422,
        "no extension",
    ),
    (
        "upload Windows path",
        "POST",
        "/v1/documents",
        {"files": {"file": ("C:\\Windows\\system.ini", CLINIC_FILE)}},
        422,
        "'.ini'",
    ),
    (
        "upload NUL in file name",
        "POST",
        "/v1/documents",
        {"files": {"file": ("a.md\x00.sh", CLINIC_FILE)}},
        422,
        "'.sh'",
    ),
    (
        "upload hidden sidecar name",
        "POST",
        "/v1/documents",
        {"files": {"file": (".rag-corpus.json", CLINIC_FILE)}},
        422,
        "'.json'",
    ),
    (
        "json source ../..",
        "POST",
        "/v1/documents",
        {"json": {"title": "t", "text": "正文。", "source": "../../../etc/x.sh"}},
        422,
        "'.sh'",
    ),
    (
        "oversized multipart",
        "POST",
        "/v1/documents",
        {"files": {"file": ("big.md", b"# t\n\n" + "很长。".encode() * 3000)}},
        413,
        "limit",
    ),
    (
        "oversized chunked body, no length",
        "POST",
        "/v1/documents",
        {
            "content": _chunked(b"{" + b" " * (3 * LIMIT + 200_000)),
            "headers": {"content-type": "application/json"},
        },
        413,
        "limit",
    ),
    (
        "non-UTF-8 file",
        "POST",
        "/v1/documents",
        {"files": {"file": ("gbk.md", "# 标题\n\n正文内容。".encode("gbk"))}},
        422,
        "UTF-8",
    ),
    (
        "UTF-16 file",
        "POST",
        "/v1/documents",
        {"files": {"file": ("u16.md", "# 标题\n\n正文内容。".encode("utf-16"))}},
        422,
        "binary",
    ),
    (
        "non-UTF-8 JSON body",
        "POST",
        "/v1/documents",
        {
            "content": '{"title": "标题", "text": "正文"}'.encode("gbk"),
            "headers": {"content-type": "application/json"},
        },
        422,
        "not valid JSON",
    ),
    (
        "deeply nested JSON upload",
        "POST",
        "/v1/documents",
        {"content": nested(30_000), "headers": {"content-type": "application/json"}},
        422,
        "JSON",
    ),
    (
        "deeply nested metadata",
        "POST",
        "/v1/documents",
        {"files": {"file": ("ok.md", CLINIC_FILE)}, "data": {"metadata": nested(20_000)}},
        422,
        "nested too deeply",
    ),
    (
        "lone surrogate in metadata",
        "POST",
        "/v1/documents",
        {"files": {"file": ("ok.md", CLINIC_FILE)}, "data": {"metadata": '{"place": "\\ud800"}'}},
        422,
        "lone surrogate",
    ),
    (
        "lone surrogate in JSON upload",
        "POST",
        "/v1/documents",
        {
            "content": b'{"title": "t", "text": "\\udfff"}',
            "headers": {"content-type": "application/json"},
        },
        422,
        "surrogate",
    ),
    # Starlette's own JSON parsing refuses these before the route: 400 with its message.
    (
        "deeply nested ask",
        "POST",
        "/v1/ask",
        {"content": nested(100_000), "headers": {"content-type": "application/json"}},
        400,
        "error parsing the body",
    ),
    (
        "deeply nested object ask",
        "POST",
        "/v1/ask",
        {
            "content": '{"question": ' + '{"a": ' * 20_000 + "1" + "}" * 20_001,
            "headers": {"content-type": "application/json"},
        },
        400,
        "error parsing the body",
    ),
    (
        "deeply nested chat",
        "POST",
        "/v1/chat/completions",
        {"content": nested(100_000), "headers": {"content-type": "application/json"}},
        400,
        "error parsing the body",
    ),
    (
        "non-UTF-8 ask body",
        "POST",
        "/v1/ask",
        {
            "content": '{"question": "党员"}'.encode("gbk"),
            "headers": {"content-type": "application/json"},
        },
        400,
        "error parsing the body",
    ),
    (
        "lone surrogate in question",
        "POST",
        "/v1/ask",
        {
            "content": b'{"question": "\\ud800\\udfff\\ud800"}',
            "headers": {"content-type": "application/json"},
        },
        422,
        "lone surrogate",
    ),
    (
        "lone surrogate in history",
        "POST",
        "/v1/ask",
        {
            "content": b'{"question": "q", "history": [{"role": "user", "content": "\\ud800"}]}',
            "headers": {"content-type": "application/json"},
        },
        422,
        "lone surrogate",
    ),
    (
        "lone surrogate in chat",
        "POST",
        "/v1/chat/completions",
        {
            "content": b'{"messages": [{"role": "user", "content": "\\udc00"}]}',
            "headers": {"content-type": "application/json"},
        },
        422,
        "lone surrogate",
    ),
    ("huge question", "POST", "/v1/ask", {"json": {"question": "党" * 100_000}}, 422, "limit"),
    (
        "huge history",
        "POST",
        "/v1/ask",
        {"json": {"question": "那呢?", "history": [{"role": "user", "content": "党" * 10}] * 5000}},
        422,
        "history",
    ),
    (
        "huge chat",
        "POST",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "user", "content": "党"}] * 5000}},
        422,
        "messages",
    ),
    ("path traversal doc id", "GET", "/v1/documents/..%2F..%2Fetc%2Fpasswd", {}, 404, "Not Found"),
    ("delete traversal doc id", "DELETE", "/v1/documents/..%2F..%2Fseeds", {}, 404, "Not Found"),
    ("delete unknown", "DELETE", "/v1/documents/ffffffffffff", {}, 404, "no document"),
    ("huge search query", "GET", "/v1/search", {"params": {"q": "党" * 5000}}, 422, "limit"),
    ("search k out of range", "GET", "/v1/search", {"params": {"q": "党", "k": 10**9}}, 422, "k"),
]


@pytest.fixture(scope="module")
def bad_request_results(tmp_path_factory, base_settings, seed_bundle, services):
    """Send every bad request to a server over a private index; record responses and state."""
    import shutil

    from tests.conftest import SEEDS

    root = tmp_path_factory.mktemp("hostile")
    shutil.copytree(base_settings.index_dir, root / "index")
    shutil.copytree(SEEDS, root / "seeds")
    copy = base_settings.model_copy(
        update={"index_dir": root / "index", "source_dir": root / "seeds"}
    )
    before = (tree_digest(copy.source_dir), tree_digest(copy.index_dir))
    results = {}
    with live_server(copy, services, max_upload_bytes=LIMIT) as http:
        for name, method, path, request, _, _ in BAD_REQUESTS:
            results[name] = http.request(method, path, **request)
        results["(still serving)"] = http.post("/v1/ask", json={"question": QUESTION})
    after = (tree_digest(copy.source_dir), tree_digest(copy.index_dir))
    return results, before, after, root


@pytest.mark.parametrize(
    ("name", "status", "fragment"), [(c[0], c[4], c[5]) for c in BAD_REQUESTS], ids=lambda x: x
)
def test_bad_request_gets_a_clear_4xx(bad_request_results, name, status, fragment) -> None:
    response: httpx.Response = bad_request_results[0][name]
    assert response.status_code == status, (name, response.text[:300])
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.strip()
    assert fragment in detail, detail


def test_bad_requests_change_nothing(bad_request_results) -> None:
    results, before, after, root = bad_request_results
    assert results["(still serving)"].status_code == 200
    assert after == before
    assert not (root / "etc").exists() and not (root.parent / "etc").exists()
    assert json.loads(results["(still serving)"].text)["answerable"]
