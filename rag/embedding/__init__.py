"""Text embedders behind one small interface; `build_embedder` picks one from settings."""

from rag.embedding.base import Embedder
from rag.embedding.factory import build_embedder, limit_threads

__all__ = ["Embedder", "build_embedder", "limit_threads"]
