"""Passage and sentence vectors for a build: the live generation's reused, the rest
embedded in batches (a rebuild after adding one file embeds only that file's text)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rag.embedding import Embedder
from rag.errors import IndexStateError
from rag.index.chunks import ChunkStore
from rag.index.dense import DenseIndex
from rag.index.generations import current_generation
from rag.index.manifest import Manifest
from rag.index.sentences import SentenceIndex
from rag.schemas import Chunk


def passage_text(chunk: Chunk) -> str:
    """What is embedded and BM25-indexed: the chunk with its article title and section."""
    context = " ".join(part for part in (chunk.title, chunk.section) if part)
    return f"{context}\n{chunk.text}" if context else chunk.text


def reusable_vectors(
    index_dir: Path, embedder_name: str
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Vectors of the live index by passage text and by sentence text, when it was built
    with the same model.

    A rebuild after adding or changing a file then embeds only the new passages and
    sentences. Only the manifest, chunks and vectors are read (not BM25 and its tokenizer).
    """
    try:
        folder = current_generation(Path(index_dir))
        manifest = Manifest.load(folder)
        store = ChunkStore.load(folder)
        dense = DenseIndex.load(folder)
    except (IndexStateError, OSError, ValueError, RuntimeError):
        return {}, {}
    if manifest.embedder != embedder_name or len(store) != len(dense):
        return {}, {}
    vectors = dense.vectors()
    passages = {passage_text(c): vectors[i] for i, c in enumerate(store.chunks)}
    try:
        sentences = SentenceIndex.load(folder).by_text(store.chunks)
    except (OSError, ValueError):  # an index from before sentence vectors
        sentences = {}
    return passages, sentences


def embed_texts(
    texts: list[str],
    embedder: Embedder,
    batch_size: int,
    progress: bool,
    known: dict[str, np.ndarray] | None = None,
    what: str = "chunk",
    on_batch: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Passage-mode vectors for `texts` (reusing `known` ones) and how many were new;
    `on_batch` is told how many each batch embedded (a job's progress)."""
    known = known or {}
    missing = missing_texts(texts, known)
    fresh: dict[str, np.ndarray] = {}
    with tqdm(
        total=len(missing),
        desc=f"embedding {what}s",
        unit=what,
        disable=not progress,
        file=sys.stderr,
    ) as bar:
        for i in range(0, len(missing), batch_size):
            batch = missing[i : i + batch_size]
            fresh.update(zip(batch, embedder.embed_passages(batch), strict=True))
            bar.update(len(batch))
            if on_batch is not None:
                on_batch(len(batch))
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32), 0
    vectors = np.vstack([fresh[t] if t in fresh else known[t] for t in texts])
    return np.ascontiguousarray(vectors, dtype=np.float32), len(missing)


def missing_texts(texts: list[str], known: dict[str, np.ndarray]) -> list[str]:
    """The distinct texts that have no vector yet."""
    return [t for t in dict.fromkeys(texts) if t not in known]
