"""The persisted index: manifest, staleness, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest

from rag.documents import ensure_index, rebuild
from rag.errors import IndexStateError
from rag.evaluation import load_questions
from rag.index import IndexConfig, load_index
from rag.index import builder as builder_module
from rag.index import dense as dense_module
from rag.index.builder import stale_reasons
from rag.index.dense import DenseIndex, DenseParams
from rag.index.generations import current_generation
from rag.services import Services
from tests.conftest import QUESTIONS


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
    assert stale_reasons(IndexConfig.from_settings(index_copy), embedder, before.manifest) == []
    (index_copy.source_dir / "005_new.md").write_text(
        "# 某县新闻\n\n某县今年新建便民服务中心12个,群众办事更方便。\n", "utf-8"
    )
    assert stale_reasons(IndexConfig.from_settings(index_copy), embedder, before.manifest) == [
        "corpus changed"
    ]
    messages: list[str] = []
    after, report = ensure_index(index_copy, embedder, log=messages.append)
    assert report is not None and report.embedded == 1
    assert "stale" in messages[0]
    assert after.manifest.documents == before.manifest.documents + 1
    assert "005_new.md" in after.manifest.files


def test_changed_chunking_makes_the_index_stale(index_copy, embedder):
    bundle = load_index(index_copy.index_dir)
    changed = index_copy.model_copy(update={"chunk_size": index_copy.chunk_size + 50})
    assert stale_reasons(IndexConfig.from_settings(changed), embedder, bundle.manifest) == [
        "chunking parameters changed"
    ]


def test_changed_dense_index_setting_makes_the_index_stale(index_copy, embedder):
    bundle = load_index(index_copy.index_dir)
    assert bundle.manifest.dense_index == "flat"
    lower = index_copy.model_copy(update={"dense_threshold": 10})
    assert stale_reasons(IndexConfig.from_settings(lower), embedder, bundle.manifest) == [
        "dense index changed (flat -> ivf)"
    ]
    by_name = index_copy.model_copy(update={"dense_index": "hnsw"})
    assert stale_reasons(IndexConfig.from_settings(by_name), embedder, bundle.manifest) == [
        "dense index changed (flat -> hnsw)"
    ]


def test_an_interrupted_build_leaves_the_old_index_usable(index_copy, embedder, monkeypatch):
    before = current_generation(index_copy.index_dir)
    (index_copy.source_dir / "005_new.md").write_text("# 新闻\n\n某镇修路三公里。\n", "utf-8")

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(builder_module.LexicalIndex, "save", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        rebuild(index_copy, embedder)
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
        rebuild(index_copy.model_copy(update={"source_dir": empty}), embedder)
    assert load_index(index_copy.index_dir).manifest.chunks > 0


def test_a_rebuild_embeds_only_new_passages(index_copy, embedder):
    (index_copy.source_dir / "005_new.md").write_text(
        "# 某镇新闻\n\n某镇今年修建村道12公里,惠及群众3000余人。\n", "utf-8"
    )
    report = rebuild(index_copy, embedder)
    assert report.embedded == 1
    assert report.manifest.chunks == load_index(index_copy.index_dir).manifest.chunks


# -- the dense index chosen by size ----------------------------------------------------------
def clustered_vectors(n: int, seed: int = 0) -> np.ndarray:
    """Normalized vectors around 40 centres: structure like text embeddings, unlike noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, 32)).astype(np.float32)
    vectors = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, 32))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def exact_top(vectors: np.ndarray, query: np.ndarray, n: int, rows: np.ndarray | None = None):
    rows = np.arange(len(vectors)) if rows is None else rows
    return rows[np.argsort(-(vectors[rows] @ query), kind="stable")[:n]]


def test_the_dense_index_kind_follows_size():
    vectors = clustered_vectors(3_000)
    params = DenseParams(threshold=2_000)
    assert DenseIndex.build(vectors[:1_999], params).kind == "flat"
    assert DenseIndex.build(vectors, params).kind == "ivf"
    assert DenseIndex.build(vectors[:100], DenseParams(kind="hnsw")).kind == "hnsw"


def test_ivf_recall_against_exact_search():
    vectors, queries = clustered_vectors(4_000), clustered_vectors(50, seed=1)
    ivf = DenseIndex.build(vectors, DenseParams(threshold=1_000, nprobe=8))
    found = [
        len(set(ivf.search(q, 10)[1].tolist()) & set(exact_top(vectors, q, 10).tolist()))
        for q in queries
    ]
    assert np.mean(found) / 10 >= 0.9
    one_cell = DenseIndex.build(vectors, DenseParams(threshold=1_000, nprobe=1))
    fewer = [
        len(set(one_cell.search(q, 10)[1].tolist()) & set(exact_top(vectors, q, 10).tolist()))
        for q in queries
    ]
    assert np.mean(fewer) < np.mean(found)  # probing more cells is what buys the recall


@pytest.mark.parametrize("allowed_count", [50, 2_500])
def test_ivf_filtered_search_returns_only_allowed_rows(allowed_count, monkeypatch):
    """A narrow filter is searched exactly; a wide one through the IVF with a selector."""
    monkeypatch.setattr(dense_module, "EXACT_SUBSET_MAX", 1_000)
    vectors, query = clustered_vectors(4_000), clustered_vectors(1, seed=2)[0]
    ivf = DenseIndex.build(vectors, DenseParams(threshold=1_000, nprobe=8))
    allowed = np.random.default_rng(3).choice(4_000, allowed_count, replace=False)
    scores, rows = ivf.search(query, 10, allowed)
    assert len(rows) == 10 and set(rows.tolist()) <= set(allowed.tolist())
    assert np.all(np.diff(scores) <= 1e-6)
    np.testing.assert_allclose(scores, vectors[rows] @ query, rtol=1e-5)
    if allowed_count <= 1_000:
        assert rows.tolist() == exact_top(vectors, query, 10, np.sort(allowed)).tolist()


def test_save_and_load_keep_nprobe_and_settings_override_it(tmp_path):
    vectors = clustered_vectors(3_000)
    DenseIndex.build(vectors, DenseParams(threshold=1_000, nprobe=5)).save(tmp_path)
    loaded = DenseIndex.load(tmp_path)
    assert loaded.kind == "ivf" and loaded.index.nprobe == 5
    np.testing.assert_allclose(loaded.index.reconstruct(7), vectors[7], rtol=1e-6)
    assert DenseIndex.load(tmp_path, DenseParams(nprobe=12)).index.nprobe == 12
    loaded.configure(DenseParams(nprobe=3))
    assert loaded.index.nprobe == 3


def test_services_apply_the_configured_nprobe(index_copy, embedder):
    settings = index_copy.model_copy(update={"dense_index": "ivf", "ivf_nprobe": 2})
    rebuild(settings, embedder)
    bundle = load_index(settings.index_dir)
    assert bundle.manifest.dense_index == "ivf" and bundle.dense.index.nprobe == 2
    services = Services.from_parts(settings.model_copy(update={"ivf_nprobe": 6}), embedder, bundle)
    assert services.bundle.dense.index.nprobe == 6
    assert services.retriever.search("北塔区村党组织书记的待遇", k=3)


# -- BM25 top-k with the score-floor pre-filter ----------------------------------------------
@pytest.mark.parametrize("n", [1, 5, 50])
def test_bm25_prefilter_returns_what_full_scoring_ranks(seed_bundle, n):
    lexical = seed_bundle.lexical
    questions = [q.question for q in load_questions(QUESTIONS)]
    allowed = np.arange(0, len(seed_bundle.store), 3)
    floors = 0
    for question in questions:
        scores = lexical.scores(question)
        positive = np.flatnonzero(scores > 0)
        expected = positive[np.lexsort((positive, -scores[positive]))][:n]
        got_scores, got = lexical.search(question, n)
        assert got.tolist() == expected.tolist()
        np.testing.assert_array_equal(got_scores, scores[expected])
        assert lexical.search(question, n, prefilter=False)[1].tolist() == expected.tolist()
        floors += lexical.score_floor(lexical.query_ids(question), scores, n) > 0

        kept = np.intersect1d(positive, allowed)
        expected = kept[np.lexsort((kept, -scores[kept]))][:n]
        assert lexical.search(question, n, allowed)[1].tolist() == expected.tolist()
    assert floors > len(questions) // 2  # the floor did prune for most questions


def test_sentence_vectors_are_stored_and_reused_by_a_rebuild(index_copy, embedder):
    bundle = load_index(index_copy.index_dir)
    sentences = bundle.sentences
    assert len(sentences) == bundle.manifest.sentences > len(bundle.store)
    documents = {d.doc_id: d for d in bundle.store.documents}
    for doc_id, start, end in sentences.keys[:50]:
        text = documents[doc_id].text[start:end]
        assert text.strip() == text and len(text) >= 6
        vector = sentences.vector(doc_id, start)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3
    (index_copy.source_dir / "005_new.md").write_text(
        "# 某县新闻\n\n某县今年新建便民服务中心12个,群众办事更方便。\n", "utf-8"
    )
    report = rebuild(index_copy, embedder)
    assert report.sentences_embedded == 1  # only the new article's sentence
    assert report.manifest.sentences == bundle.manifest.sentences + 1
