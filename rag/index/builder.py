"""Build, load and check the index: the one place that knows all its parts."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

from rag.chunking import ChunkingParams, chunk_documents
from rag.config import Settings
from rag.corpus import read_corpus
from rag.corpus.files import corpus_checksum
from rag.embedding import Embedder
from rag.errors import IndexStateError
from rag.index.dense import DenseIndex, DenseParams
from rag.index.lexical import LexicalIndex, Tokenizer, corpus_user_words
from rag.index.manifest import Manifest
from rag.index.milvus_store import MilvusStore, default_uri
from rag.index.storage import _publish, current_generation, write_lock
from rag.index.store import ChunkStore
from rag.index.vector_store import FaissStore, VectorStore
from rag.schemas import Chunk


@dataclass
class IndexBundle:
    """A loaded index: everything retrieval needs, read once."""

    manifest: Manifest
    store: ChunkStore
    dense: DenseIndex
    lexical: LexicalIndex
    folder: Path
    vectors: VectorStore  # where dense search runs: `dense` itself, or a Milvus collection


@dataclass
class BuildReport:
    manifest: Manifest
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    embedded: int = 0  # chunks embedded anew (the rest reused the previous index's vectors)


def chunking_params(settings: Settings) -> ChunkingParams:
    return ChunkingParams(
        size=settings.chunk_size, max_chars=settings.chunk_max_chars, overlap=settings.chunk_overlap
    )


def passage_text(chunk: Chunk) -> str:
    """What is embedded and BM25-indexed: the chunk with its article title and section."""
    context = " ".join(part for part in (chunk.title, chunk.section) if part)
    return f"{context}\n{chunk.text}" if context else chunk.text


def store_name(settings: Settings) -> str:
    """The configured store, else the live index's, else faiss."""
    if settings.store:
        return settings.store
    try:
        return Manifest.load(current_generation(Path(settings.index_dir))).store
    except (IndexStateError, OSError, ValueError):
        return "faiss"


def milvus_uri(settings: Settings) -> str:
    """`RAG_MILVUS_URI`, else the Milvus Lite folder beside the index generations."""
    return settings.milvus_uri or default_uri(settings.index_dir)


def connect_milvus(settings: Settings) -> MilvusStore:
    return MilvusStore.connect(
        milvus_uri(settings), settings.milvus_collection, settings.milvus_token
    )


def reusable_vectors(index_dir: Path, embedder_name: str) -> dict[str, np.ndarray]:
    """Vectors of the live index by passage text, when it was built with the same model.

    A rebuild after adding or changing a file then embeds only the new passages. Only the
    manifest, chunks and vectors are read (not BM25 and its tokenizer).
    """
    try:
        folder = current_generation(Path(index_dir))
        manifest = Manifest.load(folder)
        store = ChunkStore.load(folder)
        dense = DenseIndex.load(folder)
    except (IndexStateError, OSError, ValueError, RuntimeError):
        return {}
    if manifest.embedder != embedder_name or len(store) != len(dense):
        return {}
    vectors = dense.index.reconstruct_n(0, len(dense))
    return {passage_text(c): vectors[i] for i, c in enumerate(store.chunks)}


_EMBEDDER_LOCKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_EMBEDDER_LOCKS_GUARD = threading.Lock()


def embedder_lock(embedder: Embedder) -> threading.Lock:
    """One lock per embedder object: the native models are not re-entrant, and index
    updates embed passages while the service embeds queries with the same model."""
    with _EMBEDDER_LOCKS_GUARD:
        lock = _EMBEDDER_LOCKS.get(embedder)
        if lock is None:
            lock = _EMBEDDER_LOCKS[embedder] = threading.Lock()
        return lock


def embed_chunks(
    chunks: list[Chunk],
    embedder: Embedder,
    batch_size: int,
    progress: bool,
    known: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for `chunks` (reusing `known` ones) and how many were embedded anew."""
    texts = [passage_text(c) for c in chunks]
    known = known or {}
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    fresh: dict[str, np.ndarray] = {}
    with tqdm(
        total=len(missing), desc="embedding", unit="chunk", disable=not progress, file=sys.stderr
    ) as bar:
        for i in range(0, len(missing), batch_size):
            batch = missing[i : i + batch_size]
            with embedder_lock(embedder):
                batch_vectors = embedder.embed_passages(batch)
            fresh.update(zip(batch, batch_vectors, strict=True))
            bar.update(len(batch))
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32), 0
    vectors = np.vstack([fresh[t] if t in fresh else known[t] for t in texts])
    return np.ascontiguousarray(vectors, dtype=np.float32), len(missing)


def build_index(
    settings: Settings, embedder: Embedder, *, progress: bool = False, lock_held: bool = False
) -> BuildReport:
    """Read `settings.source_dir`, chunk, embed, index, and publish a new generation.

    `lock_held`: the caller already holds the index's write lock (`storage.write_lock`),
    as corpus updates do across "change the folder + build". Otherwise the lock is taken
    for the whole build (reading the folder included: a concurrent `rag add` must not be
    half-seen) and a corpus change a crash interrupted is resolved first.
    """
    if not lock_held:
        from rag.index.updates import recover_interrupted  # updates builds on this module

        Path(settings.index_dir).mkdir(parents=True, exist_ok=True)
        with write_lock(Path(settings.index_dir)):
            if Path(settings.source_dir).is_dir():
                recover_interrupted(settings)
            return build_index(settings, embedder, progress=progress, lock_held=True)
    started = time.perf_counter()
    checksum = corpus_checksum(settings.source_dir)
    corpus = read_corpus(settings.source_dir)
    if not corpus.documents:
        reasons = "; ".join(corpus.skipped.values()) or "no .txt or .md files"
        raise IndexStateError(f"nothing to index in {settings.source_dir}: {reasons}")
    params = chunking_params(settings)
    chunks = chunk_documents(corpus.documents, params)
    embed_started = time.perf_counter()
    known = reusable_vectors(settings.index_dir, embedder.name)
    vectors, embedded = embed_chunks(
        chunks, embedder, settings.embedding_batch_size, progress, known
    )
    embed_seconds = time.perf_counter() - embed_started
    tokenizer = Tokenizer(corpus_user_words([d.text for d in corpus.documents]))
    lexical = LexicalIndex.build([passage_text(c) for c in chunks], tokenizer)
    store = store_name(settings)
    dense_params = DenseParams.from_settings(settings)
    if store == "milvus":
        # The local vectors are then only a cache (reused by rebuilds, read by the
        # answerer), never searched: kept flat so every process can memory-map them.
        dense_params = dataclasses.replace(dense_params, kind="flat")
    dense = DenseIndex.build(vectors, dense_params)
    manifest = Manifest(
        embedder=embedder.name,
        dim=int(vectors.shape[1]),
        chunk_size=params.size,
        chunk_max_chars=params.max_chars,
        chunk_overlap=params.overlap,
        corpus_checksum=checksum,
        files=corpus.files,
        documents=len(corpus.documents),
        chunks=len(chunks),
        dense_index=dense.kind if store == "faiss" else "hnsw",
        store=store,
        milvus_collection=settings.milvus_collection if store == "milvus" else "",
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 3),
    )
    with contextlib.contextmanager(_publish)(settings.index_dir) as folder:
        if store == "milvus":  # written first: a failure here publishes nothing
            connect_milvus(settings).sync(chunks, corpus.documents, vectors, embedder.name)
        ChunkStore(corpus.documents, chunks).save(folder)
        dense.save(folder)
        lexical.save(folder)
        manifest.save(folder)
    return BuildReport(
        manifest=manifest,
        skipped=corpus.skipped,
        seconds=time.perf_counter() - started,
        embed_seconds=embed_seconds,
        embedded=embedded,
    )


def load_index(
    index_dir: Path, settings: Settings | None = None, previous: IndexBundle | None = None
) -> IndexBundle:
    """Load the live generation; `settings` say where Milvus is (default: from RAG_*).

    A reload passes the `previous` bundle: its Milvus connection is kept when it is to the
    same collection (a service reloads after every corpus change).
    """
    folder = current_generation(Path(index_dir))
    try:
        manifest = Manifest.load(folder)
        store = ChunkStore.load(folder)
        dense = DenseIndex.load(folder) if manifest.store == "faiss" else _mapped(folder)
        lexical = LexicalIndex.load(folder)
    except (OSError, ValueError, RuntimeError) as exc:
        raise IndexStateError(f"index in {folder} is unreadable ({exc}): rebuild it") from exc
    if not (len(store) == len(dense) == manifest.chunks):
        raise IndexStateError(f"index in {folder} is inconsistent: rebuild it")
    vectors: VectorStore
    if manifest.store == "milvus":
        settings = (settings or Settings()).model_copy(
            update={"index_dir": Path(index_dir), "milvus_collection": manifest.milvus_collection}
        )
        vectors = _milvus_vectors(settings, manifest, previous)
    else:
        vectors = FaissStore(dense, store.chunks, store.documents)
    return IndexBundle(
        manifest=manifest, store=store, dense=dense, lexical=lexical, folder=folder, vectors=vectors
    )


def _milvus_vectors(
    settings: Settings, manifest: Manifest, previous: IndexBundle | None
) -> MilvusStore:
    uri = milvus_uri(settings)
    old = previous.vectors if previous is not None else None
    if isinstance(old, MilvusStore) and (old.uri, old.collection) == (
        uri,
        manifest.milvus_collection,
    ):
        return old
    store = connect_milvus(settings)
    if manifest.chunks and store.count() == 0:
        raise IndexStateError(
            f"Milvus collection {manifest.milvus_collection} at {uri} is empty: "
            "check RAG_MILVUS_URI, or rebuild with `rag ingest --force`"
        )
    return store


def _mapped(folder: Path) -> DenseIndex:
    """The flat vector cache of a Milvus index, memory-mapped (shared by all workers)."""
    return DenseIndex(faiss.read_index(str(folder / DenseIndex.FILE), faiss.IO_FLAG_MMAP))


def stale_reasons(settings: Settings, embedder: Embedder, manifest: Manifest) -> list[str]:
    params = chunking_params(settings)
    reasons = manifest.stale_reasons(
        embedder=embedder.name,
        chunk_params=(params.size, params.max_chars, params.overlap),
        checksum=corpus_checksum(settings.source_dir),
    )
    if settings.store and settings.store != manifest.store:
        reasons.append(f"store changed ({manifest.store} -> {settings.store})")
    wanted = DenseParams.from_settings(settings).kind_for(manifest.chunks)
    if manifest.store == "faiss" and manifest.dense_index != wanted:
        reasons.append(f"dense index changed ({manifest.dense_index} -> {wanted})")
    return reasons


def ensure_index(
    settings: Settings,
    embedder: Embedder,
    *,
    progress: bool = False,
    log=None,  # noqa: ANN001
) -> IndexBundle:
    """Load the index, building it first when it is missing or stale."""
    say = log or (lambda message: print(message, file=sys.stderr))
    try:
        bundle = load_index(settings.index_dir, settings)
        reasons = stale_reasons(settings, embedder, bundle.manifest)
        if not reasons:
            return bundle
        say(f"index is stale ({'; '.join(reasons)}): rebuilding")
    except IndexStateError as exc:
        say(f"{exc}; building the index")
    build_index(settings, embedder, progress=progress)
    return load_index(settings.index_dir, settings)
