"""The VectorStore contract, run against FAISS and Milvus (Milvus Lite, in the process or as
a loopback server): same hits as an exact search, filters, deletes, persistence; then the
milvus store end to end (ingest switch, updates, two workers sharing one collection)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from rag.api import create_app
from rag.cli import app as cli_app
from rag.cli.server import export_for_workers, share_milvus_lite
from rag.config import Settings
from rag.corpus.uploads import prepare_upload
from rag.documents import add_documents, rebuild, remove_documents
from rag.errors import IndexStateError, InvalidRequestError
from rag.index import IndexBundle, IndexConfig, load_index
from rag.index.dense import DenseIndex, DenseParams
from rag.index.stores.base import STORES, VectorStore
from rag.index.stores.faiss_store import FaissStore
from rag.index.stores.milvus_lite import start_lite_server
from rag.index.stores.milvus_store import MilvusStore, milvus_filter
from rag.query import Filters
from rag.retrieval import Retriever
from rag.schemas import Chunk, Document, Hit
from rag.services import Services
from tests.api_server import serve
from tests.conftest import QUESTIONS
from tests.test_api_updates import upload, wait_for
from tests.test_updates import CLINIC_FILE, CLINIC_METADATA

K = 10
TOLERANCE = 1e-4


@pytest.fixture(scope="session")
def lite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One Milvus Lite folder for the session (its engine starts once, in this process)."""
    return str(tmp_path_factory.mktemp("milvus") / "milvus.db")


@pytest.fixture(scope="session")
def seed_vectors(seed_bundle: IndexBundle) -> np.ndarray:
    return seed_bundle.dense.index.reconstruct_n(0, len(seed_bundle.dense))


@pytest.fixture(scope="session")
def query_vectors(services: Services) -> list[np.ndarray]:
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text("utf-8").splitlines()]
    return [services.retriever.embed_query(q) for q in questions[::8]]


def new_collection() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


def empty_store(kind: str, lite_uri: str, dim: int) -> VectorStore:
    if kind == "faiss":
        return FaissStore(
            DenseIndex.build(np.zeros((0, dim), dtype=np.float32), DenseParams()), [], []
        )
    store = MilvusStore.connect(lite_uri, new_collection())
    store.embedder = "test"
    return store


@pytest.fixture(params=STORES)
def seed_store(request, lite_uri, seed_bundle, seed_vectors) -> Iterator[VectorStore]:
    """A store of each kind filled with the seed index's chunks and vectors via `add`."""
    store = empty_store(request.param, lite_uri, seed_vectors.shape[1])
    store.add(seed_bundle.store.chunks, seed_bundle.store.documents, seed_vectors)
    yield store
    if isinstance(store, MilvusStore):
        store.drop()


def exact_top(
    vectors: np.ndarray, chunks: list[Chunk], query: np.ndarray, n: int, rows: list[int]
) -> list[tuple[str, float]]:
    scores = vectors[rows] @ query
    order = np.argsort(-scores, kind="stable")[:n]
    return [(chunks[rows[i]].chunk_id, float(scores[i])) for i in order]


def assert_same_hits(found: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    """Same scores in the same order; ids may differ only among ties at the cut-off."""
    assert len(found) == len(expected)
    assert np.allclose([s for _, s in found], [s for _, s in expected], atol=TOLERANCE)
    if expected:
        last = expected[-1][1]
        above = {c for c, s in expected if s > last + TOLERANCE}
        assert above <= {c for c, _ in found}


def admitted_rows(bundle: IndexBundle, filters: Filters | None) -> list[int]:
    documents = {d.doc_id: d for d in bundle.store.documents}
    return [
        i
        for i, chunk in enumerate(bundle.store.chunks)
        if filters is None or filters.admits(documents[chunk.doc_id])
    ]


def seed_filters(bundle: IndexBundle) -> list[Filters]:
    documents = bundle.store.documents
    dated = sorted(d.metadata["date"] for d in documents if d.metadata.get("date"))
    places = [d.metadata["place"] for d in documents if d.metadata.get("place")]
    assert dated and places, "the seed corpus has dates and places to filter on"
    middle = dated[len(dated) // 2]
    return [
        Filters(source=[documents[0].source]),
        Filters(doc_id=[documents[1].doc_id, documents[-1].doc_id]),
        Filters(place=[places[0][:2]]),
        Filters(since=middle[:4]),
        Filters(until=middle[:7]),
        Filters(since=dated[0], until=middle),
        Filters(place=[places[-1]], since="2000"),
        Filters(source=["no-such-file.txt"]),
    ]


# -- the contract -------------------------------------------------------------------------


def test_a_store_finds_what_an_exact_search_finds(
    seed_store, seed_bundle, seed_vectors, query_vectors
):
    assert seed_store.count() == len(seed_bundle.store.chunks)
    everything = admitted_rows(seed_bundle, None)
    for query in query_vectors:
        expected = exact_top(seed_vectors, seed_bundle.store.chunks, query, K, everything)
        assert_same_hits(seed_store.search(query, K), expected)


def test_filters_run_with_the_semantics_of_filters_admits(
    seed_store, seed_bundle, seed_vectors, query_vectors
):
    for filters in seed_filters(seed_bundle):
        rows = admitted_rows(seed_bundle, filters)
        for query in query_vectors[:3]:
            expected = exact_top(seed_vectors, seed_bundle.store.chunks, query, K, rows)
            assert_same_hits(seed_store.search(query, K, filters), expected)


def test_deleting_a_document_removes_all_its_chunks(
    seed_store, seed_bundle, seed_vectors, query_vectors
):
    gone = seed_bundle.store.documents[0].doc_id
    seed_store.delete_documents([gone, "no-such-document"])
    remaining = [i for i, c in enumerate(seed_bundle.store.chunks) if c.doc_id != gone]
    assert seed_store.count() == len(remaining)
    for query in query_vectors:
        expected = exact_top(seed_vectors, seed_bundle.store.chunks, query, K, remaining)
        assert_same_hits(seed_store.search(query, K), expected)
    assert seed_store.search(query_vectors[0], K, Filters(doc_id=[gone])) == []


def test_dates_and_places_filter_exactly_like_admits(lite_uri):
    """Every precision of stated date against every precision of since/until."""
    dates = ["", "2020", "2021", "2021-05", "2021-06", "2021-06-01", "2021-06-30", "2021-07-15"]
    places = ["桂阳县", "湖南省桂阳县", "浏阳市", ""]
    documents = [
        Document(
            doc_id=f"d{i}",
            source=f"s{i % 3}.txt",
            title="t",
            text="x",
            metadata={k: v for k, v in (("date", date), ("place", place)) if v},
        )
        for i, (date, place) in enumerate((d, p) for d in dates for p in places)
    ]
    chunks = [
        Chunk(
            chunk_id=f"{d.doc_id}#0",
            doc_id=d.doc_id,
            source=d.source,
            title="t",
            section="",
            text="x",
            start=0,
            end=1,
        )
        for d in documents
    ]
    vectors = np.eye(len(documents), 8, dtype=np.float32) + 0.01
    stores = [empty_store(kind, lite_uri, 8) for kind in STORES]
    for store in stores:
        store.add(chunks, documents, vectors)
    bounds = [None, "2021", "2021-06", "2021-06-15", "2020-12-31"]
    cases = [Filters(since=s, until=u) for s in bounds for u in bounds]
    cases += [Filters(place=["桂阳"]), Filters(place=["浏阳市", "湖南"], source=["s1.txt"])]
    for filters in cases:
        wanted = {d.doc_id for d in documents if filters.admits(d)}
        for store in stores:
            found = {c.split("#")[0] for c, _ in store.search(vectors[0], 100, filters)}
            assert found == wanted, (store.name, filters, milvus_filter(filters))
    stores[1].drop()


def test_a_place_with_like_wildcards_is_refused_not_misread():
    with pytest.raises(InvalidRequestError, match="not allowed"):
        milvus_filter(Filters(place=["100%"]))


def test_a_milvus_lite_folder_keeps_its_chunks_across_restarts(
    tmp_path, seed_bundle, seed_vectors, query_vectors
):
    from milvus_lite.server_manager import server_manager_instance

    uri = str(tmp_path / "own.db")
    store = MilvusStore.connect(uri, "chunks")
    store.add(seed_bundle.store.chunks, seed_bundle.store.documents, seed_vectors)
    before = store.search(query_vectors[0], K)
    store.client.close()
    server_manager_instance.release_server(uri)  # the engine stops; only the folder is left
    reopened = MilvusStore.connect(uri, "chunks")
    assert reopened.count() == len(seed_bundle.store.chunks)
    assert_same_hits(reopened.search(query_vectors[0], K), before)
    reopened.client.close()
    server_manager_instance.release_server(uri)


# -- the milvus store end to end ----------------------------------------------------------


def milvus_settings(index_copy: Settings, uri: str) -> Settings:
    return index_copy.model_copy(
        update={"store": "milvus", "milvus_uri": uri, "milvus_collection": new_collection()}
    )


def same_ranking(found: list[Hit], expected: list[Hit]) -> None:
    assert_same_hits(
        [(h.chunk_id, h.score) for h in found], [(h.chunk_id, h.score) for h in expected]
    )


def test_a_milvus_index_retrieves_like_the_faiss_one(
    index_copy, lite_uri, services, embedder, tmp_path
):
    settings = milvus_settings(index_copy, lite_uri)
    report = rebuild(settings, embedder)
    assert report.embedded == 0  # vectors reused from the live index, whatever its store
    assert report.manifest.store == "milvus"
    bundle = load_index(settings.index_dir, IndexConfig.from_settings(settings).stores)
    assert bundle.vectors.count() == bundle.manifest.chunks
    milvus = Retriever(bundle, embedder)
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text("utf-8").splitlines()]
    for question in questions[::6]:
        for mode in ("dense", "hybrid"):
            same_ranking(
                milvus.search(question, K, mode), services.retriever.search(question, K, mode)
            )
    place = Filters(place=["桂阳"])
    same_ranking(
        milvus.search(questions[0], K, "hybrid", place),
        services.retriever.search(questions[0], K, "hybrid", place),
    )
    # The store is recorded: without RAG_STORE the index stays on Milvus...
    follow = settings.model_copy(update={"store": ""})
    from rag.index.builder import stale_reasons

    assert stale_reasons(IndexConfig.from_settings(follow), embedder, bundle.manifest) == []
    # ...and asking for the other store is a reason to rebuild.
    back = settings.model_copy(update={"store": "faiss"})
    assert "store changed (milvus -> faiss)" in stale_reasons(
        IndexConfig.from_settings(back), embedder, bundle.manifest
    )
    MilvusStore.connect(lite_uri, settings.milvus_collection).drop()


def test_adding_and_removing_articles_write_to_milvus(index_copy, lite_uri, embedder):
    settings = milvus_settings(index_copy, lite_uri)
    rebuild(settings, embedder)
    store = MilvusStore.connect(lite_uri, settings.milvus_collection)
    before = store.count()
    follow = settings.model_copy(update={"store": ""})  # the manifest says milvus
    (added,) = add_documents(
        follow,
        embedder,
        [prepare_upload("青山县卫生室.md", CLINIC_FILE, CLINIC_METADATA, limit=10**6)],
    )
    (document,) = added.documents
    assert store.count() == before + document.chunks
    bundle = load_index(settings.index_dir, IndexConfig.from_settings(settings).stores)
    hits = Retriever(bundle, embedder).search("卫生室", 3, "dense", Filters(place=["青山县"]))
    assert hits and {h.doc_id for h in hits} == {document.doc_id}
    remove_documents(follow, embedder, [document.doc_id])
    assert store.count() == before
    store.drop()


def test_ingest_store_switches_and_the_choice_sticks(index_copy, lite_uri):
    runner = CliRunner()
    collection = new_collection()
    env = {"RAG_MILVUS_URI": lite_uri, "RAG_MILVUS_COLLECTION": collection}
    where = ["--source", str(index_copy.source_dir), "--index", str(index_copy.index_dir)]
    result = runner.invoke(cli_app, ["ingest", "--store", "milvus", *where], env=env)
    assert result.exit_code == 0, result.output
    assert "milvus + BM25" in result.output and "0 embedded" in result.output
    result = runner.invoke(cli_app, ["ingest", *where], env=env)
    assert result.exit_code == 0 and "up to date" in result.output, result.output
    result = runner.invoke(cli_app, ["ingest", "--store", "faiss", *where], env=env)
    assert result.exit_code == 0 and "faiss + BM25" in result.output, result.output
    result = runner.invoke(cli_app, ["ingest", "--store", "chroma", *where], env=env)
    assert result.exit_code == 1 and "unknown --store" in result.output
    MilvusStore.connect(lite_uri, collection).drop()


def test_two_workers_share_one_collection(index_copy, embedder, tmp_path, monkeypatch):
    """What `rag serve --workers 2` sets up: a milvus-lite server owns the folder, each
    worker has its own services; an article added through one is found through the other."""
    assert share_milvus_lite(index_copy) == (index_copy, None)  # a faiss index: nothing to do
    monkeypatch.setenv("RAG_MILVUS_URI", "")  # set by export_for_workers, restored after
    monkeypatch.setenv("RAG_INDEX_DIR", "")
    lite = str(tmp_path / "shared.db")
    settings, process = share_milvus_lite(milvus_settings(index_copy, lite))
    try:
        assert process is not None
        assert settings.milvus_uri.startswith("http://127.0.0.1:")
        export_for_workers(settings)
        assert os.environ["RAG_MILVUS_URI"] == settings.milvus_uri  # what workers read
        assert os.environ["RAG_INDEX_DIR"] == str(settings.index_dir.resolve())
        with pytest.raises(IndexStateError, match="open by one process only"):
            MilvusStore.connect(lite, "x")
        rebuild(settings, embedder)
        workers = [
            Services.from_parts(
                settings,
                embedder,
                load_index(settings.index_dir, IndexConfig.from_settings(settings).stores),
            )
            for _ in range(2)
        ]
        with (
            serve(create_app(settings, services=workers[0])) as first,
            serve(create_app(settings, services=workers[1])) as second,
            httpx.Client(base_url=first, timeout=120) as one,
            httpx.Client(base_url=second, timeout=120) as other,
        ):
            assert [c.get("/readyz").json()["store"] for c in (one, other)] == ["milvus"] * 2
            response = upload(one, "青山县卫生室.md", CLINIC_FILE, CLINIC_METADATA)
            assert response.status_code == 201, response.text
            doc_id = response.json()["documents"][0]["doc_id"]

            def found_through_the_other() -> bool:
                params = {"q": "卫生室 党员", "place": "青山县", "mode": "dense"}
                hits = other.get("/v1/search", params=params).json()["hits"]
                return bool(hits) and {h["doc_id"] for h in hits} == {doc_id}

            wait_for(found_through_the_other)
            assert other.delete(f"/v1/documents/{doc_id}?wait=true").status_code == 200
            wait_for(lambda: one.get(f"/v1/documents/{doc_id}").status_code == 404)
            gone = one.get("/v1/search", params={"q": "卫生室", "place": "青山县"}).json()
            assert gone["hits"] == []
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_wrong_milvus_address_is_a_clear_error(index_copy, lite_uri, embedder, tmp_path):
    settings = milvus_settings(index_copy, lite_uri)
    rebuild(settings, embedder)
    elsewhere = settings.model_copy(update={"milvus_uri": str(tmp_path / "empty.db")})
    with pytest.raises(IndexStateError, match="is empty: check RAG_MILVUS_URI"):
        load_index(settings.index_dir, IndexConfig.from_settings(elsewhere).stores)
    with pytest.raises(IndexStateError, match="must end in .db"):
        MilvusStore.connect(str(tmp_path / "folder"), "x")
    MilvusStore.connect(lite_uri, settings.milvus_collection).drop()


def test_a_milvus_server_going_away_is_a_clear_error(tmp_path, query_vectors):
    process, address = start_lite_server(str(tmp_path / "gone.db"))
    store = MilvusStore.connect(address, "chunks")
    process.terminate()
    process.wait(timeout=10)
    with pytest.raises(IndexStateError, match="search failed"):
        store.search(query_vectors[0], K)
    with pytest.raises(IndexStateError, match="count failed"):
        store.count()
