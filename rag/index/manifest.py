"""What an index was built from; any difference from the current settings makes it stale."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

# 2: document metadata (place, date, newspaper); 3: IVF; 4: sentence vectors;
# 5: page numbers (PDF) on documents and chunks
# 6: extracted metadata without writing tools' placeholder authors
FORMAT_VERSION = 6


class Manifest(BaseModel):
    format_version: int = FORMAT_VERSION
    store: str = "faiss"  # "faiss" or "milvus" (rag/index/stores/)
    milvus_collection: str = ""
    embedder: str
    dim: int
    chunk_size: int
    chunk_max_chars: int
    chunk_overlap: int
    corpus_checksum: str
    files: list[str]
    documents: int
    chunks: int
    sentences: int = 0
    dense_index: str
    built_at: str
    build_seconds: float

    def save(self, folder: Path) -> None:
        (folder / "manifest.json").write_text(self.model_dump_json(indent=2), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        return cls.model_validate_json((folder / "manifest.json").read_text("utf-8"))

    def stale_reasons(
        self, *, embedder: str, chunk_params: tuple[int, int, int], checksum: str
    ) -> list[str]:
        reasons = []
        if self.format_version != FORMAT_VERSION:
            reasons.append(f"index format {self.format_version} != {FORMAT_VERSION}")
        if self.embedder != embedder:
            reasons.append(f"embedder changed ({self.embedder} -> {embedder})")
        if (self.chunk_size, self.chunk_max_chars, self.chunk_overlap) != chunk_params:
            reasons.append("chunking parameters changed")
        if self.corpus_checksum != checksum:
            reasons.append("corpus changed")
        return reasons
