"""The persisted index: manifest, staleness, atomic writes."""

from __future__ import annotations

import pytest

from rag.errors import IndexStateError
from rag.index import build_index, ensure_index, load_index
from rag.index import builder as builder_module
from rag.index.builder import stale_reasons
from rag.index.storage import current_generation


def test_manifest_records_what_the_index_was_built_from(seed_bundle, embedder):
    manifest = seed_bundle.manifest
    assert manifest.embedder == embedder.name and manifest.dim == embedder.dim
    assert manifest.documents == len(seed_bundle.store.documents) >= 11
    assert manifest.chunks == len(seed_bundle.store) == len(seed_bundle.dense)
    assert manifest.dense_index == "flat"
    assert len(manifest.files) == 5


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexStateError, match="rag ingest"):
        load_index(tmp_path / "nothing-here")


def test_changed_corpus_makes_the_index_stale_and_it_is_rebuilt(index_copy, embedder):
    before = load_index(index_copy.index_dir)
    assert stale_reasons(index_copy, embedder, before.manifest) == []
    (index_copy.source_dir / "005_new.md").write_text(
        "# 某县新闻\n\n某县今年新建便民服务中心12个,群众办事更方便。\n", "utf-8"
    )
    assert stale_reasons(index_copy, embedder, before.manifest) == ["corpus changed"]
    messages: list[str] = []
    after = ensure_index(index_copy, embedder, log=messages.append)
    assert "stale" in messages[0]
    assert after.manifest.documents == before.manifest.documents + 1
    assert "005_new.md" in after.manifest.files


def test_changed_chunking_makes_the_index_stale(index_copy, embedder):
    bundle = load_index(index_copy.index_dir)
    changed = index_copy.model_copy(update={"chunk_size": index_copy.chunk_size + 50})
    assert stale_reasons(changed, embedder, bundle.manifest) == ["chunking parameters changed"]


def test_an_interrupted_build_leaves_the_old_index_usable(index_copy, embedder, monkeypatch):
    before = current_generation(index_copy.index_dir)
    (index_copy.source_dir / "005_new.md").write_text("# 新闻\n\n某镇修路三公里。\n", "utf-8")

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(builder_module.LexicalIndex, "save", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        build_index(index_copy, embedder)
    assert current_generation(index_copy.index_dir) == before
    assert not list(index_copy.index_dir.glob(".tmp-*"))
    bundle = load_index(index_copy.index_dir)
    assert "005_new.md" not in bundle.manifest.files
    assert len(bundle.store) == bundle.manifest.chunks


def test_a_corrupt_generation_is_reported(index_copy):
    (current_generation(index_copy.index_dir) / "chunks.jsonl").write_text("{not json\n")
    with pytest.raises(IndexStateError, match="rebuild"):
        load_index(index_copy.index_dir)


def test_empty_source_folder_is_refused(index_copy, embedder, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "blank.txt").write_text("   \n", "utf-8")
    with pytest.raises(IndexStateError, match="nothing to index"):
        build_index(index_copy.model_copy(update={"source_dir": empty}), embedder)
    assert load_index(index_copy.index_dir).manifest.chunks > 0


def test_a_rebuild_embeds_only_new_passages(index_copy, embedder):
    (index_copy.source_dir / "005_new.md").write_text(
        "# 某镇新闻\n\n某镇今年修建村道12公里,惠及群众3000余人。\n", "utf-8"
    )
    report = build_index(index_copy, embedder)
    assert report.embedded == 1
    assert report.manifest.chunks == load_index(index_copy.index_dir).manifest.chunks
