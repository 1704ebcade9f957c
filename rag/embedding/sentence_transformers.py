"""Any sentence-transformers model: a local folder or a hub name (where a hub is reachable)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.embedding.base import normalize_rows
from rag.errors import EmbedderError


class SentenceTransformerEmbedder:
    """Query/passage prefixes cover asymmetric models (e5: 'query: ', bge-zh: an instruction)."""

    def __init__(
        self,
        model: str,
        *,
        threads: int = 1,
        batch_size: int = 32,
        query_prefix: str = "",
        passage_prefix: str = "",
    ) -> None:
        if not model:
            raise EmbedderError(
                "RAG_EMBEDDING_MODEL is empty: give a sentence-transformers model folder or name"
            )
        self.name = f"sentence-transformers/{Path(model).name if Path(model).exists() else model}"
        self.dim = 0
        self._model_name = model
        self._threads = threads
        self._batch_size = batch_size
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._model = None

    def load(self) -> SentenceTransformerEmbedder:
        if self._model is None:
            try:
                import torch
                from sentence_transformers import SentenceTransformer

                torch.set_num_threads(self._threads)
                self._model = SentenceTransformer(self._model_name, device="cpu")
            except Exception as exc:  # noqa: BLE001 - any load failure means the same to a user
                raise EmbedderError(
                    f"cannot load sentence-transformers model '{self._model_name}': {exc}"
                ) from exc
            dim = (
                self._model.get_embedding_dimension()
                if hasattr(self._model, "get_embedding_dimension")
                else self._model.get_sentence_embedding_dimension()
            )
            self.dim = int(dim or 0)
        return self

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = self.load()._model
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = model.encode(
            texts, batch_size=self._batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return normalize_rows(vectors)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self._query_prefix + t for t in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode([self._passage_prefix + t for t in texts])
