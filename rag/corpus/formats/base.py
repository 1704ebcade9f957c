"""What every format reader shares: its signature, its limits, and turning extracted
blocks (headings, paragraphs, table rows, with their pages) into a `Document`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, Protocol

from rag.corpus.metadata import extract_metadata
from rag.errors import UnreadableFileError
from rag.schemas import Document, Section

# A title is repeated in every chunk (and its embedding input): a given one that is
# longer is refused (rag/corpus/uploads.py), an extracted one is cut to this.
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class ReadLimits:
    """Bounds on what reading one file may cost (from the settings)."""

    max_unpacked_bytes: int = 64 * 1024 * 1024  # RAG_MAX_UNPACKED_BYTES


class Reader(Protocol):
    """Read one file's bytes into its articles ([] when it holds no article text).

    Raises CorpusError (text formats) or UnreadableFileError / UnpackTooLargeError.
    """

    def __call__(self, data: bytes, name: str, limits: ReadLimits) -> list[Document]: ...


@dataclass(frozen=True)
class Block:
    """One extracted piece of a document, in reading order."""

    kind: Literal["heading", "para"]
    text: str
    page: int | None = None  # 1-based, for paginated formats


_SIGNATURES = {b"%PDF-": "a PDF", b"PK\x03\x04": "a zip archive such as .docx"}


def sniff(data: bytes) -> str | None:
    """What the first bytes say the file is ("a PDF", ...), None if nothing known."""
    head = data[:1024].lstrip()
    for magic, kind in _SIGNATURES.items():
        if head.startswith(magic):
            return kind
    return None


def refuse_mislabelled(data: bytes, name: str, expected: str, label: str) -> None:
    """An extension that lies ("x.pdf" holding text, "x.docx" not a zip) is refused:
    the first bytes must be those of `expected` (a `sniff` result)."""
    found = sniff(data)
    if found == expected:
        return
    if not data.strip():
        raise UnreadableFileError(f"{name}: file is empty")
    what = found or ("text" if _is_text(data) else "unknown binary data")
    raise UnreadableFileError(f"{name}: not {label}: the file holds {what}")


def _is_text(data: bytes) -> bool:
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > 4090  # a character cut at the sample's end
    return b"\x00" not in data[:4096]


def clip_title(title: str) -> str:
    """An extracted title, whitespace collapsed and cut to MAX_TITLE_CHARS."""
    title = " ".join(title.split())
    if len(title) <= MAX_TITLE_CHARS:
        return title
    return title[: MAX_TITLE_CHARS - 1].rstrip() + "…"


def build_document(
    source: str, title: str, blocks: list[Block], metadata: dict[str, str] | None = None
) -> Document | None:
    """The document these blocks make: paragraphs joined by newlines, a section per
    heading, the start offset of each page; None without any paragraph.

    Offsets index `text`; `metadata` (the file's own: date, author...) wins over what
    the text states (place, date, newspaper).
    """
    parts: list[str] = []
    sections: list[Section] = []
    page_starts: dict[int, int] = {}
    offset = 0
    current: Section | None = None
    for block in blocks:
        if block.page is not None:
            page_starts.setdefault(block.page, offset)
        parts.append(block.text)
        offset += len(block.text) + 1
        if block.kind == "heading":
            if current is not None:
                sections.append(current)
            current = Section(title=block.text, start=offset, end=offset)
            continue
        if current is None:
            current = Section(title="", start=offset - len(block.text) - 1, end=offset)
        current.end = offset - 1
    if current is not None:
        sections.append(current)
    sections = [s for s in sections if s.end > s.start]
    if not sections:
        return None
    text = "\n".join(parts)
    title = clip_title(title) or source
    pages = [page_starts.get(p, -1) for p in range(1, max(page_starts, default=0) + 1)]
    # A page without text starts where the next one does.
    for i in range(len(pages) - 1, -1, -1):
        if pages[i] < 0:
            pages[i] = pages[i + 1] if i + 1 < len(pages) else len(text)
    digest = hashlib.sha1(f"{source}\0{0}\0{title}".encode()).hexdigest()[:12]
    document = Document(
        doc_id=digest, source=source, title=title, text=text, sections=sections, pages=pages
    )
    own = {k: v for k, v in (metadata or {}).items() if not _placeholder(k, v)}
    document.metadata = {**extract_metadata(document, text), **own}
    return document


# What writing tools put in a file's author field when nobody gave one.
PLACEHOLDER_AUTHORS = frozenset({"anonymous", "unknown", "python-docx", "author", "administrator"})


def _placeholder(key: str, value: str) -> bool:
    return key == "author" and value.strip().lower() in PLACEHOLDER_AUTHORS
