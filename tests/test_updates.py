"""A growing corpus: add, replace and remove articles, with the real model and index.

Every test works on `index_copy` (a private copy of the seed index and corpus): the
session index is never modified.
"""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from rag.cli import app as cli_app
from rag.corpus import changes as changes_module
from rag.corpus import read_corpus
from rag.corpus.files import SIDECAR, corpus_checksum, load_sidecar
from rag.corpus.uploads import prepare_json_upload, prepare_upload, safe_name
from rag.documents import add_documents, recover, remove_documents
from rag.errors import UnknownDocumentError, UploadError, UploadTooLargeError
from rag.index import IndexConfig, load_index
from rag.index.builder import stale_reasons
from rag.index.chunks import ChunkStore
from rag.index.dense import DenseIndex
from rag.index.generations import current_generation
from rag.index.lexical import LexicalIndex
from rag.index.manifest import Manifest
from rag.services import IndexFollower, Services

LIMIT = 5 * 1024 * 1024

# A short report with a fact found nowhere in the seeds: 37 village clinics in 青山县.
CLINIC_TITLE = "青山县37个村卫生室全部建成投用"
CLINIC_TEXT = (
    "今年以来,青山县把村卫生室建设作为民生实事来抓,全县新建标准化村卫生室37个,"
    "实现了村级卫生服务全覆盖。\n"
    "县卫生健康局介绍,2023年县财政投入资金1800万元,为每个新建卫生室配备了一名乡村医生"
    "和一台远程会诊设备。\n"
    "家住石门村的王大爷说:“以前看病要走十几里山路,现在家门口就能看病了。”\n"
)
CLINIC_FILE = f"# {CLINIC_TITLE}\n\n{CLINIC_TEXT}".encode()
CLINIC_QUESTION = "青山县新建了多少个村卫生室?"
CLINIC_METADATA = {"place": "青山县", "date": "2023-06"}

runner = CliRunner()


def clinic_upload(text: str = CLINIC_TEXT, metadata: dict | None = None):
    return prepare_json_upload(
        CLINIC_TITLE, text, "青山县卫生室.md", metadata or CLINIC_METADATA, limit=LIMIT
    )


def folder_state(folder: Path) -> dict[str, bytes]:
    """Every file of the corpus folder (hidden ones too) with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def services_over(settings, embedder) -> Services:
    return Services.from_parts(settings, embedder, load_index(settings.index_dir))


def live_store(settings) -> ChunkStore:
    """The live generation's documents and chunks (cheaper than a whole `load_index`)."""
    return ChunkStore.load(current_generation(settings.index_dir))


def assert_consistent(settings, embedder) -> None:
    """The live index is what `rag ingest` would build from the folder now."""
    manifest = Manifest.load(current_generation(settings.index_dir))
    assert stale_reasons(IndexConfig.from_settings(settings), embedder, manifest) == []
    corpus = read_corpus(settings.source_dir)
    assert sorted(d.doc_id for d in corpus.documents) == sorted(
        d.doc_id for d in live_store(settings).documents
    )
    assert not list(settings.source_dir.glob(".rag-backup-*"))


# -- names, metadata, sidecar: no index needed ----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("report.md", "report.md"),
        ("../../escape.md", "escape.md"),
        ("/etc/cron.d/job.txt", "job.txt"),
        ("C:\\Users\\x\\新闻 稿.MD", "新闻_稿.md"),
        (".hidden.md", "hidden.md"),
        ("a<b>|c?.txt", "a_b_c.txt"),
        ("日报\u202e.md", "日报.md"),
    ],
)
def test_file_names_are_reduced_to_a_safe_base_name(raw, name):
    assert safe_name(raw) == name


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("../../etc/passwd", "no extension"),
        ("/etc/passwd", "no extension"),
        ("report.xlsx", "'.xlsx' files are not accepted"),
        ("note.md\x00.sh", "'.sh' files are not accepted"),
        ("..", "no usable name"),
        ("../", "no usable name"),
        ("\x00", "no usable name"),
        (".md", "no"),
    ],
)
def test_bad_file_names_are_refused(raw, reason):
    with pytest.raises(UploadError, match=reason):
        safe_name(raw)


def test_uploads_are_checked_before_anything_is_written():
    with pytest.raises(UploadTooLargeError, match="limit of 100 bytes"):
        prepare_upload("big.md", "# 标题\n\n".encode() + "正文。".encode() * 100, limit=100)
    for data, reason in [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"# t\n\n\xff\xfe body", "not valid UTF-8"),
        (b"%PDF-1.4\x00\x01\x02", "binary"),
        ("# 只有标题\n".encode(), "no article text"),
    ]:
        with pytest.raises(UploadError, match=reason):
            prepare_upload("x.md", data, limit=LIMIT)
    with pytest.raises(UploadError, match="not a date"):
        prepare_upload("x.md", CLINIC_FILE, {"date": "June 2023"}, limit=LIMIT)
    with pytest.raises(UploadError, match="identifier"):
        prepare_upload("x.md", CLINIC_FILE, {"bad key": "1"}, limit=LIMIT)
    with pytest.raises(UploadError, match="title is empty"):
        prepare_json_upload(" ", "正文。", limit=LIMIT)
    upload = prepare_json_upload(CLINIC_TITLE, CLINIC_TEXT, None, CLINIC_METADATA, limit=LIMIT)
    assert upload.name == f"{CLINIC_TITLE}.md" and upload.data == CLINIC_FILE
    assert [d.title for d in upload.documents] == [CLINIC_TITLE]
    named = prepare_json_upload("2023年1.5万人/次参加", "某县今年修路三公里。", limit=LIMIT)
    assert named.name == "2023年1_5万人_次参加.md"


def test_the_reader_applies_the_sidecar_and_the_checksum_covers_it(tmp_path):
    (tmp_path / "a.md").write_bytes(CLINIC_FILE)
    (tmp_path / "b.md").write_text("# 另一篇\n\n某镇今年修路三公里,群众出行更方便。\n", "utf-8")
    before = corpus_checksum(tmp_path)
    docs = {d.source: d for d in read_corpus(tmp_path).documents}
    sidecar = {
        "metadata": {docs["a.md"].doc_id: {"place": "石门村", "source_url": "http://x"}},
        "removed": [docs["b.md"].doc_id],
    }
    (tmp_path / SIDECAR).write_text(json.dumps(sidecar), "utf-8")
    assert corpus_checksum(tmp_path) != before
    report = read_corpus(tmp_path)
    assert [d.source for d in report.documents] == ["a.md"]
    assert report.documents[0].metadata["place"] == "石门村"
    assert report.documents[0].metadata["date"] == "2023"  # still read from the text
    assert "b.md" in report.skipped
    (tmp_path / SIDECAR).write_text("{broken", "utf-8")
    with pytest.raises(Exception, match="sidecar"):
        read_corpus(tmp_path)


# -- add, ask, remove -----------------------------------------------------------------------


def test_add_then_ask_then_remove_then_refused(index_copy, embedder):
    before = live_store(index_copy)
    generation = current_generation(index_copy.index_dir)
    (result,) = add_documents(index_copy, embedder, [clinic_upload()])
    assert result.status == "added" and result.source == "青山县卫生室.md"
    (document,) = result.documents
    assert document.title == CLINIC_TITLE and document.chunks >= 1
    assert result.embedded == document.chunks  # the seed passages were all reused
    # The folder holds the article as markdown, the metadata in the sidecar.
    assert (index_copy.source_dir / "青山县卫生室.md").read_bytes() == CLINIC_FILE
    assert load_sidecar(index_copy.source_dir).metadata == {document.doc_id: CLINIC_METADATA}
    assert_consistent(index_copy, embedder)

    store = live_store(index_copy)
    assert current_generation(index_copy.index_dir) != generation
    assert len(store.documents) == len(before.documents) + 1
    assert store.document(document.doc_id).metadata["place"] == "青山县"
    answer = services_over(index_copy, embedder).answerer.answer(CLINIC_QUESTION)
    assert answer.answerable and "37个" in answer.answer
    assert answer.citations[0].doc_id == document.doc_id
    cited = store.document(document.doc_id)
    for citation in answer.citations:
        if citation.doc_id == document.doc_id:
            assert cited.text[citation.start : citation.end] == citation.text

    (removed,) = remove_documents(index_copy, embedder, [document.doc_id])
    assert removed.file_deleted and removed.source == "青山县卫生室.md"
    assert not (index_copy.source_dir / "青山县卫生室.md").exists()
    assert not (index_copy.source_dir / SIDECAR).exists()  # nothing left to record
    assert_consistent(index_copy, embedder)
    answer = services_over(index_copy, embedder).answerer.answer(CLINIC_QUESTION)
    assert not answer.answerable and not answer.citations
    with pytest.raises(UnknownDocumentError, match=document.doc_id):
        remove_documents(index_copy, embedder, [document.doc_id])


def test_re_adding_is_idempotent_and_changed_content_replaces(index_copy, embedder):
    (first,) = add_documents(index_copy, embedder, [clinic_upload()])
    generation = current_generation(index_copy.index_dir)
    (again,) = add_documents(index_copy, embedder, [clinic_upload()])
    assert again.status == "unchanged" and again.embedded == 0
    assert [d.doc_id for d in again.documents] == [d.doc_id for d in first.documents]
    assert current_generation(index_copy.index_dir) == generation  # no rebuild at all
    ids = [d.doc_id for d in live_store(index_copy).documents]
    assert len(ids) == len(set(ids)) == 12

    changed = CLINIC_TEXT.replace("37个", "41个").replace("1800万元", "2100万元")
    (replaced,) = add_documents(index_copy, embedder, [clinic_upload(changed)])
    assert replaced.status == "replaced"
    assert [d.doc_id for d in replaced.documents] == [d.doc_id for d in first.documents]
    assert 0 < replaced.embedded <= replaced.documents[0].chunks
    store = live_store(index_copy)
    assert len(store.documents) == 12
    text = store.document(first.documents[0].doc_id).text
    assert "41个" in text and "37个" not in text
    assert all("37个" not in c.text for c in store.chunks)
    # New metadata alone is a change too (the sidecar), with nothing to embed.
    (retagged,) = add_documents(
        index_copy, embedder, [clinic_upload(changed, {"place": "青山县", "date": "2023-07"})]
    )
    assert retagged.status == "replaced" and retagged.embedded == 0
    doc = live_store(index_copy).document(first.documents[0].doc_id)
    assert doc.metadata["date"] == "2023-07"
    assert_consistent(index_copy, embedder)


def test_removing_one_article_of_a_multi_article_file(index_copy, embedder):
    source = "001_71199bcc3a10d29b.txt"  # six articles
    original = (index_copy.source_dir / source).read_bytes()
    ids = [d.doc_id for d in live_store(index_copy).documents if d.source == source]
    assert len(ids) == 6
    gone = ids[4]  # 安化禁毒宣传伞上做文章, three chunks
    (removed,) = remove_documents(index_copy, embedder, [gone])
    assert not removed.file_deleted and removed.title == "安化禁毒宣传伞上做文章"
    assert (index_copy.source_dir / source).read_bytes() == original
    assert load_sidecar(index_copy.source_dir).removed == [gone]
    store = live_store(index_copy)
    assert store.document(gone) is None
    assert [d.doc_id for d in store.documents if d.source == source] == ids[:4] + ids[5:]
    assert all(c.doc_id != gone for c in store.chunks)
    assert_consistent(index_copy, embedder)

    # Re-adding the file replaces its articles: the removed one is back, same id.
    (result,) = add_documents(index_copy, embedder, [prepare_upload(source, original, limit=LIMIT)])
    assert [d.doc_id for d in result.documents] == ids
    # Only the returning article's passages are embedded (the live generation lacks them).
    assert result.status == "replaced" and result.embedded == result.documents[4].chunks
    assert not (index_copy.source_dir / SIDECAR).exists()
    assert_consistent(index_copy, embedder)


def test_removing_every_article_is_refused(index_copy, embedder):
    ids = [d.doc_id for d in live_store(index_copy).documents]
    state = folder_state(index_copy.source_dir)
    with pytest.raises(Exception, match="every article"):
        remove_documents(index_copy, embedder, ids)
    assert folder_state(index_copy.source_dir) == state


# -- failures leave index and folder as they were -------------------------------------------


def crash(*args, **kwargs):
    raise OSError("disk full")


REAL_WRITE_ATOMIC = changes_module.write_atomic


def failing_write(path, data):
    if Path(path).name == changes_module.JOURNAL:
        return REAL_WRITE_ATOMIC(path, data)
    Path(path).write_bytes(data[: len(data) // 2])  # a torn write, then the failure
    raise OSError("disk full")


def test_an_interrupted_change_leaves_index_and_folder_as_they_were(
    index_copy, embedder, monkeypatch
):
    folder, index_dir = index_copy.source_dir, index_copy.index_dir
    target = "003_181a4f7009783c53.txt"  # overwritten, with metadata: file + sidecar change
    upload = prepare_upload(target, CLINIC_FILE, CLINIC_METADATA, limit=LIMIT)
    real_replace = os.replace

    def replace_but_not_the_pointer(src, dst, *args, **kwargs):
        if Path(dst).name == "CURRENT":
            raise OSError("disk full")
        return real_replace(src, dst, *args, **kwargs)

    steps = [
        (changes_module, "write_atomic", failing_write),  # the folder write
        (ChunkStore, "save", crash),
        (DenseIndex, "save", crash),
        (LexicalIndex, "save", crash),
        (Manifest, "save", crash),
        (os, "replace", replace_but_not_the_pointer),  # the CURRENT swap
    ]
    state = folder_state(folder)
    live = current_generation(index_dir)
    for owner, name, failure in steps:
        with monkeypatch.context() as patch:
            patch.setattr(owner, name, failure)
            with pytest.raises(OSError, match="disk full"):
                add_documents(index_copy, embedder, [upload])
        assert current_generation(index_dir) == live, name
        assert folder_state(folder) == state, name
        assert not list(folder.glob(".rag-backup-*")), name
        manifest = Manifest.load(live)
        assert len(ChunkStore.load(live)) == len(DenseIndex.load(live)) == manifest.chunks
        assert stale_reasons(IndexConfig.from_settings(index_copy), embedder, manifest) == [], name
    assert load_index(index_dir).folder == live  # and it loads whole
    # The lock was released each time: the same change then goes through.
    (result,) = add_documents(index_copy, embedder, [upload])
    assert result.status == "replaced"
    assert_consistent(index_copy, embedder)


def test_a_crash_mid_change_is_rolled_back_by_the_next_change(index_copy, embedder):
    folder = index_copy.source_dir
    state = folder_state(folder)
    # What a process killed after writing, before building, leaves behind.
    change = changes_module.FolderChange(folder)
    change.write("half-done.md", CLINIC_FILE)
    change.delete("004_f6f19aced4752821.txt")
    recover(index_copy)
    assert folder_state(folder) == state
    assert not list(folder.glob(".rag-backup-*"))


# -- concurrency ----------------------------------------------------------------------------


def test_searches_during_an_add_all_see_one_generation(index_copy, embedder):
    holder = SimpleNamespace(services=services_over(index_copy, embedder))
    follower = IndexFollower(interval=0.01)
    old_generation = holder.services.bundle.folder.name
    questions = [f"{q}?" for q in ("村卫生室", "党员干部", "乡村振兴", "网格", "产业")] * 4
    adding = threading.Event()

    def search(question: str):
        adding.wait(10)
        services = follower.current(holder)  # one reference for the whole request
        hits = services.retriever.search(question, k=5)
        chunks = {c.chunk_id: c for c in services.bundle.store.chunks}
        for hit in hits:
            assert chunks[hit.chunk_id].text == hit.text
        return services.bundle.folder.name, hits

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(search, q) for q in questions]
        adding.set()
        (result,) = add_documents(index_copy, embedder, [clinic_upload()])
        results = [f.result(timeout=60) for f in futures]
    assert len(results) == 20 and all(hits for _, hits in results)
    assert {generation for generation, _ in results} <= {old_generation, result.generation}
    assert follower.reload_now(holder).bundle.folder.name == result.generation
    hits = holder.services.retriever.search(CLINIC_QUESTION, k=3)
    assert hits[0].doc_id == result.documents[0].doc_id


# -- the command line -----------------------------------------------------------------------


def test_cli_bad_input_exits_1_and_leaves_the_index_untouched(index_copy, tmp_path):
    state = folder_state(index_copy.source_dir)
    live = current_generation(index_copy.index_dir)
    where = ["--source", str(index_copy.source_dir), "--index", str(index_copy.index_dir)]
    (tmp_path / "ok.md").write_bytes(CLINIC_FILE)
    (tmp_path / "latin1.txt").write_bytes("# Titel\n\nGrüße aus Köln.".encode("latin-1"))
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    for args, message in [
        (["add", str(tmp_path / "missing.md")], "cannot read"),
        (["add", str(tmp_path / "ok.md"), str(tmp_path / "latin1.txt")], "not valid UTF-8"),
        (["add", str(tmp_path / "scan.pdf")], "truncated"),
        (["add", str(tmp_path / "sheet.xlsx")], "'.xlsx' files are not accepted"),
        (["add", str(tmp_path / "ok.md"), "--metadata", "place"], "not key=value"),
        (["add", str(tmp_path / "ok.md"), "--metadata", "date=yesterday"], "not a date"),
        (["remove", "no-such-id"], "no document with id"),
    ]:
        result = runner.invoke(cli_app, args + where)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
    assert folder_state(index_copy.source_dir) == state
    assert current_generation(index_copy.index_dir) == live
