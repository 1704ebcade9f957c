"""Chunk vectors in a Milvus collection (pymilvus `MilvusClient`), shared by every process.

`RAG_MILVUS_URI` is a Milvus Lite folder ending in `.db` (the `milvus-lite` package: a
pure-Python engine, one process per folder) or a server URL (`http://host:19530`). Each
row is one chunk with its document's fields, so filters run inside Milvus. Writes and
searches use Strong consistency: a chunk written by one worker is seen by the next
search of any other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import IndexStateError, InvalidRequestError
from rag.index.stores.milvus_lite import is_lite
from rag.query import Filters
from rag.schemas import Chunk, Document

if TYPE_CHECKING:
    from pymilvus import MilvusClient

CONSISTENCY = "Strong"
HNSW_M = 32  # the same graph as the FAISS HNSW index (rag/index/dense.py)
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512
INSERT_BATCH = 1000
QUERY_BATCH = 10_000
MAX_LIMIT = 16_384  # Milvus' largest topk
# Appended to a date to make the end of its period: "2021" covers "2021-06" ("-" < "~").
DATE_END = "~"
LIKE_WILDCARDS = ("%", "_", "\\")


def milvus_filter(filters: Filters | None) -> str:
    """A Milvus boolean expression with exactly the semantics of `Filters.admits`."""
    if filters is None or filters.is_empty():
        return ""
    clauses = []
    if filters.source:
        clauses.append(f"source in {_literal(filters.source)}")
    if filters.doc_id:
        clauses.append(f"doc_id in {_literal(filters.doc_id)}")
    if filters.place:
        for place in filters.place:
            if any(ch in place for ch in LIKE_WILDCARDS):
                raise InvalidRequestError(
                    f"place filter {place!r}: '%', '_' and '\\' are not allowed with the "
                    "milvus store"
                )
        likes = " or ".join(f"place like {_literal('%' + p + '%')}" for p in filters.place)
        clauses.append(f"({likes})")
    if filters.since or filters.until:
        clauses.append('date != ""')
    if filters.since:
        # date >= since[:len(date)]  <=>  date + "~" >= since
        clauses.append(f"date_end >= {_literal(filters.since)}")
    if filters.until:
        # date[:len(until)] <= until  <=>  date <= until + "~"
        clauses.append(f"date <= {_literal(filters.until + DATE_END)}")
    return " and ".join(clauses)


def _literal(value: str | list[str]) -> str:
    return json.dumps(value, ensure_ascii=False)


@contextlib.contextmanager
def milvus_errors(action: str, uri: str) -> Iterator[None]:
    """Milvus failures (server down, timeouts) as the project's error: a CLI message, 503."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except MilvusException as exc:
        raise IndexStateError(f"Milvus at {uri}: {action} failed: {exc}") from exc


def document_hash(document: Document, chunks: list[Chunk], embedder: str) -> str:
    """Changes when anything stored for the document changes (text, metadata, model)."""
    payload = json.dumps(
        [embedder, document.model_dump(), [c.model_dump() for c in chunks]],
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


class MilvusStore:
    """A `VectorStore` over one Milvus collection of chunks."""

    name = "milvus"

    def __init__(self, client: MilvusClient, collection: str, *, uri: str = "") -> None:
        self.client = client
        self.collection = collection
        self.uri = uri
        self.embedder = ""  # set by `sync`; part of each row's document hash

    @classmethod
    def connect(cls, uri: str, collection: str, token: str = "") -> MilvusStore:
        """Open a client (for a Lite folder: start its in-process engine, or reuse it)."""
        from pymilvus import MilvusClient

        if is_lite(uri):
            if not uri.endswith(".db"):
                raise IndexStateError(f"RAG_MILVUS_URI {uri!r}: a Milvus Lite path must end in .db")
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        # Milvus Lite logs a traceback when its folder is locked; the error below says it all.
        lite_log = logging.getLogger("milvus_lite")
        level = lite_log.level
        lite_log.setLevel(logging.CRITICAL)
        try:
            client = MilvusClient(uri=uri, token=token)
        except Exception as exc:  # pymilvus raises its own MilvusException and gRPC errors
            hint = (
                " (a Milvus Lite folder is open by one process only: is `rag serve` running? "
                "point RAG_MILVUS_URI at its server)"
                if is_lite(uri)
                else ""
            )
            raise IndexStateError(f"cannot connect to Milvus at {uri}{hint}: {exc}") from exc
        finally:
            lite_log.setLevel(level)
        store = cls(client, collection, uri=uri)
        store.load()
        return store

    def load(self) -> None:
        """Searches need the collection in memory; a reopened Milvus holds it released."""
        if self.exists():
            state = self.client.get_load_state(self.collection).get("state")
            if "Loaded" not in str(state):
                self.client.load_collection(self.collection)

    # -- schema ---------------------------------------------------------------------------

    def exists(self) -> bool:
        return bool(self.client.has_collection(self.collection))

    def create(self, dim: int) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=512, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
        schema.add_field("doc_hash", DataType.VARCHAR, max_length=64)
        schema.add_field("source", DataType.VARCHAR, max_length=1024)
        schema.add_field("title", DataType.VARCHAR, max_length=4096)
        schema.add_field("section", DataType.VARCHAR, max_length=4096)
        schema.add_field("text", DataType.VARCHAR, max_length=65_535)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("place", DataType.VARCHAR, max_length=1024)
        schema.add_field("date", DataType.VARCHAR, max_length=32)
        schema.add_field("date_end", DataType.VARCHAR, max_length=33)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        index = self.client.prepare_index_params()
        index.add_index(
            "vector",
            index_type="HNSW",
            metric_type="IP",
            params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
        )
        self.client.create_collection(
            self.collection, schema=schema, index_params=index, consistency_level=CONSISTENCY
        )

    def dim(self) -> int:
        description = self.client.describe_collection(self.collection)
        for field in description["fields"]:
            if field["name"] == "vector":
                return int(field["params"]["dim"])
        raise IndexStateError(f"Milvus collection {self.collection} has no vector field")

    def drop(self) -> None:
        if self.exists():
            self.client.drop_collection(self.collection)

    # -- VectorStore ----------------------------------------------------------------------

    def add(self, chunks: list[Chunk], documents: list[Document], vectors: np.ndarray) -> None:
        if not self.exists():
            self.create(int(vectors.shape[1]))
        by_id = {d.doc_id: d for d in documents}
        per_doc: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            per_doc.setdefault(chunk.doc_id, []).append(chunk)
        hashes = {
            doc_id: document_hash(by_id[doc_id], doc_chunks, self.embedder)
            for doc_id, doc_chunks in per_doc.items()
        }
        rows = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            meta = by_id[chunk.doc_id].metadata
            date = meta.get("date", "")
            rows.append(
                {
                    # The page is not searched on: it stays in the local chunk store.
                    **chunk.model_dump(exclude={"page"}),
                    "doc_hash": hashes[chunk.doc_id],
                    "place": meta.get("place", ""),
                    "date": date,
                    "date_end": date + DATE_END if date else "",
                    "metadata": meta,
                    "vector": np.asarray(vector, dtype=np.float32).tolist(),
                }
            )
        for i in range(0, len(rows), INSERT_BATCH):
            self.client.insert(self.collection, rows[i : i + INSERT_BATCH])
        # Sealed segments get the HNSW index; Milvus Lite otherwise searches its
        # write buffer by brute force (measured 850 ms at 10^4 chunks, 23 ms flushed).
        self.client.flush(self.collection)

    def delete_documents(self, doc_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(doc_ids))
        if not ids or not self.exists():
            return
        for i in range(0, len(ids), INSERT_BATCH):
            batch = ids[i : i + INSERT_BATCH]
            self.client.delete(self.collection, filter=f"doc_id in {_literal(batch)}")
        self.client.flush(self.collection)

    def search(
        self, query: np.ndarray, n: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        expression = milvus_filter(filters)
        n = min(n, MAX_LIMIT)
        if n <= 0:
            return []
        with milvus_errors("search", self.uri):
            results = self.client.search(
                self.collection,
                data=[np.asarray(query, dtype=np.float32).tolist()],
                anns_field="vector",
                limit=n,
                filter=expression,
                output_fields=["chunk_id"],
                search_params={"metric_type": "IP", "params": {"ef": max(HNSW_EF_SEARCH, n)}},
                consistency_level=CONSISTENCY,
            )
        return [(hit["entity"]["chunk_id"], float(hit["distance"])) for hit in results[0]]

    def count(self) -> int:
        with milvus_errors("count", self.uri):
            if not self.exists():
                return 0
            rows = self.client.query(
                self.collection,
                filter="",
                output_fields=["count(*)"],
                consistency_level=CONSISTENCY,
            )
        return int(rows[0]["count(*)"])

    # -- keeping the collection equal to a built index -------------------------------------

    def document_hashes(self) -> dict[str, str]:
        """doc_id -> doc_hash of what the collection holds now."""
        if not self.exists():
            return {}
        hashes: dict[str, str] = {}
        iterator = self.client.query_iterator(
            self.collection,
            batch_size=QUERY_BATCH,
            filter="",
            output_fields=["doc_id", "doc_hash"],
        )
        try:
            while batch := iterator.next():
                for row in batch:
                    hashes[row["doc_id"]] = row["doc_hash"]
        finally:
            iterator.close()
        return hashes

    def sync(
        self, chunks: list[Chunk], documents: list[Document], vectors: np.ndarray, embedder: str
    ) -> tuple[int, int]:
        """Make the collection hold exactly these chunks; only changed documents are
        rewritten. Idempotent, so a build that failed half-way is repaired by the next.
        Returns (documents deleted, documents written)."""
        with milvus_errors("writing the index", self.uri):
            return self._sync(chunks, documents, vectors, embedder)

    def _sync(
        self, chunks: list[Chunk], documents: list[Document], vectors: np.ndarray, embedder: str
    ) -> tuple[int, int]:
        self.embedder = embedder
        if self.exists() and self.dim() != vectors.shape[1]:
            self.drop()  # another model: nothing in it can be reused
        per_doc: dict[str, list[int]] = {}
        for row, chunk in enumerate(chunks):
            per_doc.setdefault(chunk.doc_id, []).append(row)
        by_id = {d.doc_id: d for d in documents}
        wanted = {
            doc_id: document_hash(by_id[doc_id], [chunks[r] for r in rows], embedder)
            for doc_id, rows in per_doc.items()
        }
        present = self.document_hashes()
        stale = [d for d, h in present.items() if wanted.get(d) != h]
        fresh = [d for d, h in wanted.items() if present.get(d) != h]
        self.delete_documents(stale)
        rows = [r for d in fresh for r in per_doc[d]]
        if rows:
            self.add(
                [chunks[r] for r in rows], [by_id[d] for d in fresh], vectors[np.asarray(rows)]
            )
        elif not self.exists():
            self.create(int(vectors.shape[1]))
        return len(stale), len(fresh)
