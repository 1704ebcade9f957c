"""Choosing and opening the vector store: the one place that knows store names and Milvus.

`StoreConfig` is the part of the settings the stores need; the Milvus URI is derived here
and nowhere else (`RAG_MILVUS_URI`, else the Milvus Lite folder beside the generations).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from rag.config import Settings
from rag.errors import IndexStateError, InvalidRequestError
from rag.index.chunks import ChunkStore
from rag.index.dense import DenseIndex
from rag.index.generations import current_generation
from rag.index.manifest import Manifest
from rag.index.stores.base import STORES, VectorStore
from rag.index.stores.faiss_store import FaissStore
from rag.index.stores.milvus_lite import is_lite, start_lite_server
from rag.index.stores.milvus_store import MilvusStore

LITE_FOLDER = "milvus.db"


@dataclass(frozen=True)
class StoreConfig:
    """Which store a build writes (`name`; empty: the live index's, else faiss) and where
    Milvus is (a Lite folder ending in .db, or a server URL)."""

    name: str = ""
    milvus_uri: str = ""
    milvus_token: str = ""
    milvus_collection: str = "rag_chunks"

    @classmethod
    def from_settings(cls, settings: Settings) -> StoreConfig:
        return cls(
            name=settings.store,
            milvus_uri=settings.milvus_uri or default_uri(settings.index_dir),
            milvus_token=settings.milvus_token,
            milvus_collection=settings.milvus_collection,
        )


def default_uri(index_dir: Path) -> str:
    """The Milvus Lite folder beside the index generations (kept across rebuilds)."""
    return str(Path(index_dir) / LITE_FOLDER)


def check_store(name: str, what: str = "store") -> str:
    if name not in STORES:
        raise InvalidRequestError(f"unknown {what} '{name}': use {' or '.join(STORES)}")
    return name


def store_name(config: StoreConfig, index_dir: Path) -> str:
    """The configured store, else the live index's, else faiss."""
    if config.name:
        return config.name
    try:
        return Manifest.load(current_generation(Path(index_dir))).store
    except (IndexStateError, OSError, ValueError):
        return "faiss"


def connect_milvus(config: StoreConfig, collection: str | None = None) -> MilvusStore:
    return MilvusStore.connect(
        config.milvus_uri, collection or config.milvus_collection, config.milvus_token
    )


def open_vectors(
    manifest: Manifest,
    dense: DenseIndex,
    chunks: ChunkStore,
    config: StoreConfig,
    previous: VectorStore | None = None,
) -> VectorStore:
    """Where a loaded generation's dense search runs.

    A reload passes the `previous` store: a Milvus connection to the same collection is
    kept (a service reloads after every corpus change).
    """
    if manifest.store != "milvus":
        return FaissStore(dense, chunks.chunks, chunks.documents)
    collection = manifest.milvus_collection
    if isinstance(previous, MilvusStore) and (previous.uri, previous.collection) == (
        config.milvus_uri,
        collection,
    ):
        return previous
    store = connect_milvus(config, collection)
    if manifest.chunks and store.count() == 0:
        raise IndexStateError(
            f"Milvus collection {collection} at {config.milvus_uri} is empty: "
            "check RAG_MILVUS_URI, or rebuild with `rag ingest --force`"
        )
    return store


def share_lite(config: StoreConfig, index_dir: Path) -> tuple[StoreConfig, subprocess.Popen | None]:
    """For several processes over one Milvus Lite folder: serve it from one
    `milvus-lite server` and return the config pointing at it (the caller stops it)."""
    if store_name(config, index_dir) != "milvus" or not is_lite(config.milvus_uri):
        return config, None
    process, address = start_lite_server(str(Path(config.milvus_uri).resolve()))
    return replace(config, milvus_uri=address), process
