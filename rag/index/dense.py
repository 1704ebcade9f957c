"""Dense vectors in FAISS: inner product on normalized vectors, index type chosen by size.

Measured on this 2-core machine with `make bench` (384-d, one thread, top-10 vs exact):
exact search costs ~0.8 ms at 10^4 vectors and grows linearly (~8 ms at 10^5, ~80 ms at
10^6); IVF (1024 k-means cells, 16 probed) stays near 2 ms at 10^6 with recall@10 ~0.99
and builds in ~20 s; HNSW reaches only 0.85 recall at 10^6 within 10 ms and takes 8 min
to build there. So "auto" is exact below `threshold` vectors and IVF from there on; HNSW
remains available by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import faiss
import numpy as np

DenseKind = Literal["auto", "flat", "ivf", "hnsw"]

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512  # measured: recall@10 0.875 -> 0.974 at 10^5 for < 1 ms
IVF_NPROBE = 16  # measured: recall@10 ~0.99 at 10^6 in ~2 ms (8: 0.978)
IVF_MAX_NLIST = 1024  # more cells cost minutes of k-means at 10^6 for no latency gain here
IVF_TRAIN_PER_CELL = 64  # training sample: 64 vectors per cell (FAISS wants >= 39)
# A filter admitting at most this many rows is searched exactly over those rows (a few ms):
# an approximate index may hold too few of them in the cells or graph nodes it visits.
EXACT_SUBSET_MAX = 20_000
# A wider filter probes more IVF cells, in proportion to what it excludes, up to this factor.
FILTER_NPROBE_FACTOR = 8


class DenseSettings(Protocol):
    """The fields of `rag.config.Settings` that shape the dense index."""

    dense_index: DenseKind
    dense_threshold: int
    ivf_nprobe: int
    hnsw_ef_search: int


@dataclass(frozen=True)
class DenseParams:
    """Which index to build (`kind`, `threshold`) and how hard to search it."""

    kind: DenseKind = "auto"
    threshold: int = 50_000  # "auto": exact below this many vectors, IVF at or above
    nprobe: int = IVF_NPROBE  # IVF cells scanned per query
    ef_search: int = HNSW_EF_SEARCH  # HNSW candidate list per query

    @classmethod
    def from_settings(cls, settings: DenseSettings) -> DenseParams:
        return cls(
            kind=settings.dense_index,
            threshold=settings.dense_threshold,
            nprobe=settings.ivf_nprobe,
            ef_search=settings.hnsw_ef_search,
        )

    def kind_for(self, n: int) -> Literal["flat", "ivf", "hnsw"]:
        if self.kind != "auto":
            return self.kind
        return "ivf" if n >= self.threshold else "flat"


def ivf_nlist(n: int) -> int:
    """~4*sqrt(n) cells, at most IVF_MAX_NLIST, and few enough to train on n vectors."""
    return max(1, min(IVF_MAX_NLIST, int(4 * math.sqrt(n)), n // 39))


class DenseIndex:
    """Exact search (IndexFlatIP) at small sizes, IVF (or HNSW) above; see the module doc."""

    FILE = "dense.faiss"

    def __init__(self, index: faiss.Index, params: DenseParams | None = None) -> None:
        """`params` set nprobe/efSearch; without them the index keeps the saved ones."""
        self.index = index
        if params is None:
            params = DenseParams(
                nprobe=int(index.nprobe) if isinstance(index, faiss.IndexIVF) else IVF_NPROBE,
                ef_search=(
                    int(index.hnsw.efSearch)
                    if isinstance(index, faiss.IndexHNSW)
                    else HNSW_EF_SEARCH
                ),
            )
        self.configure(params)

    @classmethod
    def build(cls, vectors: np.ndarray, params: DenseParams | None = None) -> DenseIndex:
        params = params or DenseParams()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        kind = params.kind_for(n) if n else "flat"
        if kind == "ivf":
            nlist = ivf_nlist(n)
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.own_fields = True
            quantizer.this.disown()  # the IVF index frees its quantizer
            rng = np.random.default_rng(0)
            sample = rng.choice(n, min(n, IVF_TRAIN_PER_CELL * nlist), replace=False)
            index.train(vectors[np.sort(sample)])
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            index = faiss.IndexFlatIP(dim)
        if n:
            index.add(vectors)
        return cls(index, params)

    def configure(self, params: DenseParams) -> None:
        """Apply the search-time settings (nprobe, efSearch): no rebuild needed."""
        self.params = params
        if isinstance(self.index, faiss.IndexIVF):
            self.index.nprobe = min(params.nprobe, self.index.nlist)
            if self.index.direct_map.no():
                self.index.make_direct_map()  # rows -> vectors, for reconstruct()
        elif isinstance(self.index, faiss.IndexHNSW):
            self.index.hnsw.efSearch = params.ef_search

    @property
    def kind(self) -> str:
        if isinstance(self.index, faiss.IndexIVF):
            return "ivf"
        return "hnsw" if isinstance(self.index, faiss.IndexHNSW) else "flat"

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append rows (normalized float32 vectors) after the existing ones."""
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def vectors(self) -> np.ndarray:
        """Every stored vector, row by row (rebuilds reuse them instead of embedding)."""
        return self.index.reconstruct_n(0, len(self)).reshape(len(self), -1)

    def search(
        self, query: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n (scores, rows); `allowed` restricts the search to those rows."""
        n = min(n, len(self))
        if n <= 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        params = None
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=np.int64)
            if len(allowed) <= EXACT_SUBSET_MAX:
                return self._search_subset(query[0], n, allowed)
            params = self._filtered_params(allowed)
            n = min(n, len(allowed))
        scores, rows = self.index.search(query, n, params=params)
        keep = rows[0] >= 0
        return scores[0][keep], rows[0][keep]

    def _search_subset(
        self, query: np.ndarray, n: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-n among `allowed` rows, ties by row."""
        scores = self.index.reconstruct_batch(allowed) @ query
        top = np.lexsort((allowed, -scores))[:n]
        return scores[top].astype(np.float32), allowed[top]

    def _filtered_params(self, allowed: np.ndarray) -> faiss.SearchParameters:
        selector = faiss.IDSelectorBatch(allowed)
        if isinstance(self.index, faiss.IndexIVF):
            share = len(allowed) / max(len(self), 1)
            factor = min(FILTER_NPROBE_FACTOR, math.ceil(1 / share))
            nprobe = min(self.index.nlist, self.index.nprobe * factor)
            return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
        if isinstance(self.index, faiss.IndexHNSW):
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self.params.ef_search)
        return faiss.SearchParameters(sel=selector)

    def save(self, folder: Path) -> None:
        faiss.write_index(self.index, str(folder / self.FILE))

    @classmethod
    def load(cls, folder: Path, params: DenseParams | None = None) -> DenseIndex:
        """Read the index; `params` override the nprobe/efSearch it was saved with."""
        return cls(faiss.read_index(str(folder / cls.FILE)), params)

    def vector(self, row: int) -> np.ndarray:
        """The stored (normalized) vector of `row`."""
        return self.index.reconstruct(int(row))
