"""The persisted index: chunk store, FAISS vectors, BM25 state and a manifest.

chunks.py keeps documents and chunks, dense.py the FAISS index, lexical.py the jieba
tokenizer and BM25, generations.py the atomic on-disk generations, stores/ the vector
stores (FAISS, Milvus), builder.py ties them together (build, load, staleness).
"""

from rag.index.builder import BuildReport, IndexBundle, IndexConfig, build_index, load_index
from rag.index.manifest import Manifest

__all__ = ["BuildReport", "IndexBundle", "IndexConfig", "Manifest", "build_index", "load_index"]
