"""Request and response shapes of the HTTP API.

Answers, hits and search results are `rag.schemas` models, shared with the CLI's --json
output; only what exists solely over HTTP is defined here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rag.documents import DocumentSummary
from rag.jobs import Job
from rag.query import Filters
from rag.schemas import ChatMessage, Citation, Document, Section

# Longest conversation accepted: follow-ups only need the last few turns.
MAX_HISTORY = 100


def check_unicode(value: Any) -> None:
    """Refuse lone surrogates (JSON allows "\\ud800"): they cannot be encoded as UTF-8, so
    they would break the tokenizer, the logs or the corpus file much later."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = value[exc.start : exc.end].encode("utf-8", "backslashreplace").decode()
            message = f"invalid Unicode ({bad} is a lone surrogate): send UTF-8 text"
            raise ValueError(message) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_unicode(key)
            check_unicode(item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_unicode(item)


class TextRequest(BaseModel):
    """A request body whose every string must be valid Unicode."""

    @model_validator(mode="after")
    def _valid_unicode(self) -> TextRequest:
        check_unicode(self.model_dump())
        return self


class AskRequest(TextRequest):
    """`POST /v1/ask`. Unknown fields are an error: a misspelt option must not be ignored."""

    model_config = ConfigDict(extra="forbid")

    question: str
    k: int = Field(default=5, ge=1, le=50, description="passages to retrieve")
    llm: str | None = Field(default=None, description="LLM client name; default from settings")
    history: list[ChatMessage] | None = Field(
        default=None,
        max_length=MAX_HISTORY,
        description="earlier turns; system messages are ignored",
    )
    filters: Filters | None = None
    stream: bool = Field(default=False, description="answer as server-sent events")


class DocumentsResponse(BaseModel):
    documents: list[DocumentSummary]


class JobsResponse(BaseModel):
    jobs: list[Job]


class DocumentUploadBody(TextRequest):
    """`POST /v1/documents` as JSON: stored as the markdown file `# title\n\ntext`."""

    model_config = ConfigDict(extra="forbid")

    title: str
    text: str
    source: str | None = Field(
        default=None, description="file name (.md added if none); default: from the title"
    )
    metadata: dict[str, str] | None = Field(
        default=None, description='e.g. {"place": "桂阳县", "date": "2023-06"}'
    )


class DocumentResponse(BaseModel):
    """A whole article: citation offsets index into `text`."""

    doc_id: str
    source: str
    title: str
    text: str
    sections: list[Section]
    pages: list[int] = Field(
        default_factory=list, description="start offset of each page in `text` (PDF only)"
    )

    @classmethod
    def of(cls, document: Document) -> DocumentResponse:
        """The article as both GET /v1/documents/{id} and the MCP `get_document` give it."""
        return cls(
            doc_id=document.doc_id,
            source=document.source,
            title=document.title,
            text=document.text,
            sections=document.sections,
            pages=document.pages,
        )


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    documents: int
    chunks: int
    embedder: str
    llm: str
    llm_clients: list[str]
    dense_index: str
    store: str  # "faiss" or "milvus"


# -- OpenAI-compatible chat completions -----------------------------------------------------


class ContentPart(BaseModel):
    """One part of a multi-part message; only text parts are read."""

    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None


class ChatCompletionMessage(BaseModel):
    """A message as chat UIs send it: content may be parts, roles may be tool/developer."""

    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[ContentPart] | None = None

    def to_chat(self) -> ChatMessage | None:
        """The message as the answerer sees it; None for tool and function turns."""
        role = "system" if self.role == "developer" else self.role
        if role not in ("system", "user", "assistant"):
            return None
        if isinstance(self.content, list):
            text = "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        else:
            text = self.content or ""
        return ChatMessage(role=role, content=text)


class ChatCompletionRequest(TextRequest):
    """`POST /v1/chat/completions`. Sampling options are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[ChatCompletionMessage] = Field(min_length=1, max_length=MAX_HISTORY + 1)
    stream: bool = False
    temperature: float | None = None
    max_tokens: int | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    """An OpenAI chat.completion plus `citations`, `answerable` and the standalone question."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    citations: list[Citation]
    answerable: bool
    question: str = Field(description="the question as retrieved (follow-ups made standalone)")


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    """One streamed piece; the last one also carries the checked answer: its text (which
    replaces the streamed pieces), `citations` and `answerable`."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    answer: str | None = Field(
        default=None,
        description="last chunk: the checked answer, cited by the system (replaces the deltas)",
    )
    citations: list[Citation] | None = None
    unsupported_sentences: list[str] | None = None
    answerable: bool | None = None
    question: str | None = None

    def sse_data(self) -> dict[str, Any]:
        """As OpenAI sends it: `finish_reason: null` kept, absent delta/extra fields left out."""
        data = self.model_dump(mode="json", exclude_none=True)
        for choice in data["choices"]:
            choice.setdefault("finish_reason", None)
        return data


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "rag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
