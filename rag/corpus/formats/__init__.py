"""One reader per file type, chosen by the file's extension.

Every reader turns a file's bytes into `Document`s whose `text` is what offsets index;
the original file stays in the corpus folder.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from rag.corpus.formats.base import MAX_TITLE_CHARS, Reader, ReadLimits
from rag.corpus.formats.html import read_html
from rag.corpus.formats.pdf import read_pdf
from rag.corpus.formats.text import decode_text, read_text
from rag.corpus.formats.word import read_docx
from rag.schemas import Document

READERS: dict[str, Reader] = {
    ".txt": read_text,
    ".md": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
}
SUFFIXES = tuple(READERS)


def read_bytes(data: bytes, name: str, limits: ReadLimits) -> list[Document]:
    """The articles of a file named `name` (its extension picks the reader)."""
    return READERS[PurePosixPath(name).suffix.lower()](data, name, limits)


__all__ = ["MAX_TITLE_CHARS", "SUFFIXES", "ReadLimits", "decode_text", "read_bytes"]
