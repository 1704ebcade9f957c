"""Build the configured embedder; the one place that knows every backend."""

from __future__ import annotations

import os

from rag.config import Settings
from rag.embedding.base import Embedder
from rag.embedding.e5 import E5Embedder
from rag.embedding.sentence_transformers import SentenceTransformerEmbedder


def limit_threads(threads: int) -> None:
    """Cap OpenMP/BLAS/torch/FAISS threads; call before models load.

    On this 2-core class of machine, multi-threaded inference under load was measured
    many times slower than one thread.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import faiss

    faiss.omp_set_num_threads(threads)


def build_embedder(settings: Settings) -> Embedder:
    """The embedder named by RAG_EMBEDDER, loaded and ready."""
    limit_threads(settings.threads)
    if settings.embedder == "e5":
        return E5Embedder(
            variant=settings.embedding_model or "original",
            threads=settings.threads,
            batch_size=settings.embedding_batch_size,
        ).load()
    return SentenceTransformerEmbedder(
        settings.embedding_model,
        threads=settings.threads,
        batch_size=settings.embedding_batch_size,
    ).load()
