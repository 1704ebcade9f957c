"""Shared fixtures: the real embedder and a real index of the seed corpus, built once per
session; the session API server; a fake OpenAI-compatible LLM server per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.api import create_app
from rag.config import Settings
from rag.corpus import read_corpus
from rag.documents import rebuild
from rag.embedding import build_embedder
from rag.embedding.base import Embedder
from rag.index import IndexBundle, load_index
from rag.services import Services
from tests.api_server import serve
from tests.fake_llm import FakeLLM

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
QUESTIONS = ROOT / "evals" / "questions.jsonl"


@pytest.fixture(scope="session")
def seed_documents():
    return read_corpus(SEEDS).documents


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    index_dir = tmp_path_factory.mktemp("index")
    return Settings(source_dir=SEEDS, index_dir=index_dir, _env_file=None)


@pytest.fixture(scope="session")
def embedder(base_settings: Settings) -> Embedder:
    return build_embedder(base_settings)


@pytest.fixture(scope="session")
def seed_bundle(base_settings: Settings, embedder: Embedder) -> IndexBundle:
    rebuild(base_settings, embedder)
    return load_index(base_settings.index_dir)


@pytest.fixture(scope="session")
def services(base_settings: Settings, embedder: Embedder, seed_bundle: IndexBundle) -> Services:
    return Services.from_parts(base_settings, embedder, seed_bundle)


@pytest.fixture()
def index_copy(base_settings: Settings, seed_bundle: IndexBundle, tmp_path: Path) -> Settings:
    """Settings pointing at a private copy of the seed index and corpus (safe to modify)."""
    shutil.copytree(base_settings.index_dir, tmp_path / "index")
    shutil.copytree(SEEDS, tmp_path / "seeds")
    return base_settings.model_copy(
        update={"index_dir": tmp_path / "index", "source_dir": tmp_path / "seeds"}
    )


@pytest.fixture(scope="session")
def api_url(services: Services) -> Iterator[str]:
    """The session API server (default settings, extractive answers)."""
    with serve(create_app(services.settings, services=services)) as url:
        yield url


@pytest.fixture()
def fake_llm() -> Iterator[FakeLLM]:
    """A running FakeLLM, stopped after the test."""
    server = FakeLLM()
    server.start()
    try:
        yield server
    finally:
        server.stop()
