"""Build, load and check the index: the one place that knows all its parts.

Callers that write (rag/documents/) hold the index's write lock around `build_index`;
this module never reads the settings itself, only the `IndexConfig` it is given.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import faiss

from rag.chunking import ChunkingParams, chunk_documents
from rag.corpus import read_corpus
from rag.corpus.extracted import Extraction, load_extractions, remember, save_extractions
from rag.corpus.files import corpus_checksum
from rag.corpus.formats import ReadLimits
from rag.embedding import Embedder
from rag.errors import IndexStateError
from rag.index.chunks import ChunkStore
from rag.index.dense import DenseIndex, DenseParams
from rag.index.generations import current_generation, publish
from rag.index.lexical import LexicalIndex, Tokenizer, corpus_user_words
from rag.index.manifest import FORMAT_VERSION, Manifest
from rag.index.sentences import SentenceIndex
from rag.index.stores.base import VectorStore
from rag.index.stores.factory import (
    StoreConfig,
    connect_milvus,
    default_uri,
    open_vectors,
    store_name,
)
from rag.index.vectors import embed_texts, missing_texts, passage_text, reusable_vectors

if TYPE_CHECKING:
    from rag.config import Settings

# Told (done, total) as a build embeds: texts (chunks, then their sentences) not reused.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class IndexConfig:
    """The part of the settings the index layer sees: what to read, where, and how."""

    source_dir: Path
    index_dir: Path
    chunking: ChunkingParams = ChunkingParams()
    dense: DenseParams = DenseParams()
    stores: StoreConfig = StoreConfig()
    batch_size: int = 32
    read_limits: ReadLimits = ReadLimits()

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexConfig:
        return cls(
            source_dir=Path(settings.source_dir),
            index_dir=Path(settings.index_dir),
            chunking=ChunkingParams(
                size=settings.chunk_size,
                max_chars=settings.chunk_max_chars,
                overlap=settings.chunk_overlap,
            ),
            dense=DenseParams.from_settings(settings),
            stores=StoreConfig.from_settings(settings),
            batch_size=settings.embedding_batch_size,
            read_limits=ReadLimits(max_unpacked_bytes=settings.max_unpacked_bytes),
        )


@dataclass
class IndexBundle:
    """A loaded index: everything retrieval needs, read once."""

    manifest: Manifest
    store: ChunkStore
    dense: DenseIndex
    lexical: LexicalIndex
    sentences: SentenceIndex
    folder: Path
    vectors: VectorStore  # where dense search runs: `dense` itself, or a Milvus collection


@dataclass
class BuildReport:
    manifest: Manifest
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    embedded: int = 0  # chunks embedded anew (the rest reused the previous index's vectors)
    sentences_embedded: int = 0


def _live_extractions(index_dir: Path) -> list[Extraction]:
    """What the live generation's build extracted from the files (none from other code)."""
    try:
        folder = current_generation(index_dir)
        if Manifest.load(folder).format_version != FORMAT_VERSION:
            return []
        return load_extractions(folder)
    except (IndexStateError, OSError, ValueError):
        return []


def build_index(
    config: IndexConfig,
    embedder: Embedder,
    *,
    progress: bool = False,
    on_progress: Progress | None = None,
) -> BuildReport:
    """Read `config.source_dir`, chunk, embed, index, and publish a new generation.

    The caller holds the index's write lock (`generations.write_lock`) for the whole
    build, reading the folder included: a concurrent `rag add` must not be half-seen.
    """
    started = time.perf_counter()
    checksum = corpus_checksum(config.source_dir)
    remember(_live_extractions(config.index_dir))
    corpus = read_corpus(config.source_dir, config.read_limits)
    if not corpus.documents:
        reasons = "; ".join(corpus.skipped.values()) or "no readable files"
        raise IndexStateError(f"nothing to index in {config.source_dir}: {reasons}")
    chunks = chunk_documents(corpus.documents, config.chunking)
    embed_started = time.perf_counter()
    known, known_sentences = reusable_vectors(config.index_dir, embedder.name)
    passages = [passage_text(c) for c in chunks]
    sentence_keys, sentence_texts = SentenceIndex.collect(chunks)
    total = len(missing_texts(passages, known)) + len(
        missing_texts(sentence_texts, known_sentences)
    )
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if on_progress is not None:
            on_progress(done, total)

    advance(0)
    vectors, embedded = embed_texts(
        passages, embedder, config.batch_size, progress, known, on_batch=advance
    )
    sentence_vectors, sentences_embedded = embed_texts(
        sentence_texts,
        embedder,
        config.batch_size,
        progress,
        known_sentences,
        "sentence",
        on_batch=advance,
    )
    sentences = SentenceIndex(sentence_keys, sentence_vectors)
    embed_seconds = time.perf_counter() - embed_started
    tokenizer = Tokenizer(corpus_user_words([d.text for d in corpus.documents]))
    lexical = LexicalIndex.build(passages, tokenizer)
    store = store_name(config.stores, config.index_dir)
    dense_params = config.dense
    if store == "milvus":
        # The local vectors are then only a cache (reused by rebuilds, read by the
        # answerer), never searched: kept flat so every process can memory-map them.
        dense_params = dataclasses.replace(dense_params, kind="flat")
    dense = DenseIndex.build(vectors, dense_params)
    manifest = Manifest(
        embedder=embedder.name,
        dim=int(vectors.shape[1]),
        chunk_size=config.chunking.size,
        chunk_max_chars=config.chunking.max_chars,
        chunk_overlap=config.chunking.overlap,
        corpus_checksum=checksum,
        files=corpus.files,
        documents=len(corpus.documents),
        chunks=len(chunks),
        sentences=len(sentences),
        dense_index=dense.kind if store == "faiss" else "hnsw",
        store=store,
        milvus_collection=config.stores.milvus_collection if store == "milvus" else "",
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 3),
    )
    with publish(config.index_dir) as folder:
        if store == "milvus":  # written first: a failure here publishes nothing
            connect_milvus(config.stores).sync(chunks, corpus.documents, vectors, embedder.name)
        ChunkStore(corpus.documents, chunks).save(folder)
        dense.save(folder)
        sentences.save(folder)
        lexical.save(folder)
        save_extractions(folder, corpus.extractions)
        manifest.save(folder)
    return BuildReport(
        manifest=manifest,
        skipped=corpus.skipped,
        seconds=time.perf_counter() - started,
        embed_seconds=embed_seconds,
        embedded=embedded,
        sentences_embedded=sentences_embedded,
    )


def load_index(
    index_dir: Path, stores: StoreConfig | None = None, previous: IndexBundle | None = None
) -> IndexBundle:
    """Load the live generation. `stores` say where Milvus is (default: the Lite folder
    beside the generations); a reload passes the `previous` bundle to keep its connection."""
    folder = current_generation(Path(index_dir))
    try:
        manifest = Manifest.load(folder)
        store = ChunkStore.load(folder)
        dense = DenseIndex.load(folder) if manifest.store == "faiss" else _mapped(folder)
        lexical = LexicalIndex.load(folder)
        sentences = SentenceIndex.load(folder)
    except (OSError, ValueError, RuntimeError) as exc:
        raise IndexStateError(f"index in {folder} is unreadable ({exc}): rebuild it") from exc
    if not (len(store) == len(dense) == manifest.chunks) or len(sentences) != manifest.sentences:
        raise IndexStateError(f"index in {folder} is inconsistent: rebuild it")
    stores = stores or StoreConfig(milvus_uri=default_uri(Path(index_dir)))
    vectors = open_vectors(
        manifest, dense, store, stores, previous.vectors if previous is not None else None
    )
    return IndexBundle(
        manifest=manifest,
        store=store,
        dense=dense,
        lexical=lexical,
        sentences=sentences,
        folder=folder,
        vectors=vectors,
    )


def _mapped(folder: Path) -> DenseIndex:
    """The flat vector cache of a Milvus index, memory-mapped (shared by all workers)."""
    return DenseIndex(faiss.read_index(str(folder / DenseIndex.FILE), faiss.IO_FLAG_MMAP))


def stale_reasons(config: IndexConfig, embedder: Embedder, manifest: Manifest) -> list[str]:
    params = config.chunking
    reasons = manifest.stale_reasons(
        embedder=embedder.name,
        chunk_params=(params.size, params.max_chars, params.overlap),
        checksum=corpus_checksum(config.source_dir),
    )
    if config.stores.name and config.stores.name != manifest.store:
        reasons.append(f"store changed ({manifest.store} -> {config.stores.name})")
    wanted = config.dense.kind_for(manifest.chunks)
    if manifest.store == "faiss" and manifest.dense_index != wanted:
        reasons.append(f"dense index changed ({manifest.dense_index} -> {wanted})")
    return reasons
