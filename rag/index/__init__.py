"""The persisted index: chunk store, FAISS vectors, BM25 state and a manifest.

store.py keeps documents and chunks, dense.py the FAISS index, lexical.py the jieba
tokenizer and BM25, storage.py the atomic on-disk generations, builder.py ties them
together (build, load, staleness).
"""

from rag.index.builder import BuildReport, IndexBundle, build_index, ensure_index, load_index
from rag.index.manifest import Manifest

__all__ = ["BuildReport", "IndexBundle", "Manifest", "build_index", "ensure_index", "load_index"]
