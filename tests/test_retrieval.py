"""Dense, BM25 and hybrid retrieval on the seed index."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from rag.errors import InvalidRequestError
from rag.query import Filters
from rag.retrieval import reciprocal_rank_fusion


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_finds_the_evidence(services, mode):
    hits = services.retriever.search(
        "涪口区有多少名党员干部对村(社区)实行包片包干?", k=5, mode=mode
    )
    assert any("4288名党员干部" in hit.text for hit in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_english_question_reaches_chinese_passages(services):
    hits = services.retriever.search(
        "How many new Party members took the oath in Liuyang before July 1, 2021?", k=5
    )
    assert any("1856名新党员" in hit.text for hit in hits)


def test_hits_are_exact_spans_with_context(services):
    for hit in services.retriever.search("醴陵玻璃椒种植面积", k=5):
        document = services.bundle.store.document(hit.doc_id)
        assert document.text[hit.start : hit.end] == hit.text
        assert hit.title == document.title


def test_source_filter_restricts_results(services):
    source = "003_181a4f7009783c53.txt"
    hits = services.retriever.search("党员", k=10, filters=Filters(source=source))
    assert hits and {h.source for h in hits} == {source}
    assert services.retriever.search("党员", k=5, filters=Filters(source="nope.txt")) == []


def test_unknown_filter_field_is_rejected():
    with pytest.raises(ValidationError):
        Filters.model_validate({"colour": "red"})


def test_unknown_mode_is_rejected(services):
    with pytest.raises(InvalidRequestError, match="hybrid, dense, bm25"):
        services.retriever.search("党员", mode="fuzzy")


def test_query_vectors_are_cached(services):
    first = services.retriever.embed_query("北塔区集体经济收入")
    assert services.retriever.embed_query("北塔区集体经济收入") is first
    assert np.isclose(np.linalg.norm(first), 1.0, atol=1e-4)


def test_reciprocal_rank_fusion_rewards_agreement():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    assert [row for row, _ in fused][:2] == [1, 3]


def test_place_and_date_filters(services):
    hits = services.retriever.search("党员", k=10, filters=Filters(place="桂阳县"))
    assert hits and {h.title for h in hits} == {"基层治理的桂阳模式"}
    recent = services.retriever.search("党员", k=20, filters=Filters(since="2021-06"))
    documents = {services.bundle.store.document(h.doc_id).metadata["date"] for h in recent}
    assert recent and all(d >= "2021" for d in documents)
    old = services.retriever.search("党员", k=20, filters=Filters(until="2019"))
    assert {h.title for h in old} == {"基层治理的桂阳模式"}


def test_bad_date_filter_is_rejected():
    with pytest.raises(ValidationError, match="YYYY"):
        Filters(since="last week")


@pytest.mark.parametrize(
    "filters", [Filters(place="桂阳县"), Filters(since="2021-06"), Filters(source="nope.txt")]
)
def test_allowed_rows_are_the_chunks_of_admitted_documents(services, filters):
    store = services.bundle.store
    admitted = {d.doc_id for d in store.documents if filters.admits(d)}
    expected = [row for row, chunk in enumerate(store.chunks) if chunk.doc_id in admitted]
    assert store.admitted_rows(filters).tolist() == expected


def test_a_per_document_cap_spreads_the_hits_over_articles(services):
    question = "哪些报道里提到了村级集体经济?"
    capped = services.retriever.search(question, k=5, per_document=1)
    assert len(capped) == 5
    assert len({hit.doc_id for hit in capped}) == 5
    uncapped = services.retriever.search(question, k=5)
    assert len({hit.doc_id for hit in uncapped}) < 5


def test_an_english_pinyin_name_is_searched_as_the_corpus_writes_it(services):
    hits = services.retriever.search(
        "How many new Party members did Liuyang recruit?", k=5, mode="bm25"
    )
    assert hits and all("浏阳" in hit.text or "浏阳" in hit.title for hit in hits[:3])
