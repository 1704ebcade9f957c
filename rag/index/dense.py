"""Dense vectors in FAISS: inner product on normalized vectors, index type chosen by size."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512  # measured: recall@10 0.875 -> 0.974 at 10^5 for < 1 ms (rag/benchmark.py)


class DenseIndex:
    """Exact search (IndexFlatIP) below `hnsw_threshold` vectors, HNSW above it.

    Exact search over 5*10^4 384-d vectors takes a few ms on one core; beyond that
    HNSW keeps search near-constant at a small recall cost (see `rag bench`).
    """

    FILE = "dense.faiss"

    def __init__(self, index: faiss.Index) -> None:
        self.index = index

    @classmethod
    def build(cls, vectors: np.ndarray, hnsw_threshold: int) -> DenseIndex:
        n, dim = vectors.shape
        if n >= hnsw_threshold:
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            index = faiss.IndexFlatIP(dim)
        if n:
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    @property
    def kind(self) -> str:
        return "hnsw" if isinstance(self.index, faiss.IndexHNSWFlat) else "flat"

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(
        self, query: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (scores, rows); `allowed` restricts the search to those rows."""
        n = min(n, len(self))
        if n <= 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        params = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            if self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH)
            else:
                params = faiss.SearchParameters(sel=selector)
            n = min(n, len(allowed))
        scores, rows = self.index.search(query.reshape(1, -1), n, params=params)
        keep = rows[0] >= 0
        return scores[0][keep], rows[0][keep]

    def save(self, folder: Path) -> None:
        faiss.write_index(self.index, str(folder / self.FILE))

    @classmethod
    def load(cls, folder: Path) -> DenseIndex:
        index = faiss.read_index(str(folder / cls.FILE))
        if isinstance(index, faiss.IndexHNSWFlat):
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index)
