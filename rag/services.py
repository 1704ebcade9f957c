"""Wire the configured parts together once: embedder, index, retriever, answerer.

The CLI and the API both start from `Services.start(settings)`; tests can build a
`Services` from parts of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.answering.pipeline import Answerer
from rag.config import Settings
from rag.embedding import Embedder, build_embedder
from rag.index import IndexBundle, ensure_index, load_index
from rag.retrieval import Retriever


@dataclass
class Services:
    settings: Settings
    embedder: Embedder
    bundle: IndexBundle
    retriever: Retriever
    answerer: Answerer

    @classmethod
    def start(
        cls, settings: Settings, *, build_if_needed: bool = True, progress: bool = False
    ) -> Services:
        embedder = build_embedder(settings)
        if build_if_needed:
            bundle = ensure_index(settings, embedder, progress=progress)
        else:
            bundle = load_index(settings.index_dir)
        return cls.from_parts(settings, embedder, bundle)

    @classmethod
    def from_parts(cls, settings: Settings, embedder: Embedder, bundle: IndexBundle) -> Services:
        retriever = Retriever(
            bundle,
            embedder,
            candidates=settings.fusion_candidates,
            rrf_k=settings.rrf_k,
            cache_size=settings.query_cache_size,
        )
        return cls(
            settings=settings,
            embedder=embedder,
            bundle=bundle,
            retriever=retriever,
            answerer=Answerer(settings, retriever),
        )
