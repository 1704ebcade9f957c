"""The project's exceptions: few, with messages a user can act on.

The CLI prints them and exits non-zero; the API maps them to status codes in one place.
"""


class RagError(Exception):
    """Base class for every error this project raises on purpose."""


class CorpusError(RagError):
    """A source file cannot be read as article text (not UTF-8, empty, binary, missing)."""


class IndexStateError(RagError):
    """The index is missing, corrupt, or was built with other settings."""


class EmbedderError(RagError):
    """The embedding model cannot be loaded or used."""


class LLMError(RagError):
    """An LLM backend failed; the message names the backend and the cause."""

    def __init__(self, backend: str, cause: str, *, timeout: bool = False) -> None:
        super().__init__(f"LLM backend '{backend}' failed: {cause}")
        self.backend = backend
        self.cause = cause
        self.timeout = timeout


class InvalidRequestError(RagError):
    """A request the service understood but cannot serve (bad filter, unknown client...)."""


class UploadError(InvalidRequestError):
    """An upload that cannot become a corpus file (type, encoding, name, metadata)."""


class UploadTooLargeError(UploadError):
    """An upload over the size limit (`RAG_MAX_UPLOAD_BYTES`)."""


class UnreadableFileError(UploadError):
    """A PDF, Word or HTML file whose text cannot be extracted: not what its extension
    says, truncated, corrupt, encrypted, scanned without a text layer, or without article
    text. The folder reader skips such a file; an upload of one is refused (422)."""


class UnpackTooLargeError(UploadTooLargeError):
    """A compressed file (.docx) that would unpack past `RAG_MAX_UNPACKED_BYTES` (413)."""


class UnknownDocumentError(InvalidRequestError):
    """No article with that id."""


class StorageError(RagError):
    """The machine refused a write: no space, a read-only or unwritable folder.

    `folder` and `setting` (e.g. RAG_INDEX_DIR) say where; `no_space` picks 507 over 503.
    """

    def __init__(self, message: str, *, folder: str, setting: str, no_space: bool) -> None:
        super().__init__(message)
        self.folder = folder
        self.setting = setting
        self.no_space = no_space


class OverloadedError(RagError):
    """Too many requests of this kind are already running and waiting; retry later."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
