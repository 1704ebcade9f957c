"""PDF: the text layer (pypdf), page by page, with lines broken by the layout rejoined.

Headings are told by font size (larger than the body text), or, in a PDF set in one
size, by the shape rules of the scraped pages (rag/corpus/lines.py). Page numbers and
running headers/footers repeated on most pages are dropped. Each block keeps its page,
so every chunk knows the page it starts on.
"""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from dataclasses import dataclass

from pypdf import PageObject, PdfReader
from pypdf.errors import DependencyError, PyPdfError

from rag.corpus.formats.base import Block, ReadLimits, build_document, refuse_mislabelled
from rag.corpus.lines import (
    SUBTITLE_MAX_CHARS,
    Kind,
    classify,
    ends_sentence,
    join_broken,
    normalize,
)
from rag.errors import UnreadableFileError
from rag.schemas import Document

# A line this much larger than the body text is a heading.
HEADING_SCALE = 1.15
_PAGE_NUMBER = re.compile(
    r"^[-–—\s]*(?:第\s*)?\d{1,4}\s*(?:页)?(?:\s*/\s*\d{1,4}|\s*共\s*\d{1,4}\s*页)?[-–—\s]*$"
)
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class _Line:
    text: str
    size: float
    page: int


def _scale(matrix: list[float]) -> float:
    return math.hypot(matrix[2], matrix[3]) or 1.0


def _page_lines(page: PageObject, number: int) -> list[_Line]:
    """The page's text lines, each with the largest font size used on it."""
    runs: list[tuple[str, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if text:
            runs.append((text, size * _scale(tm) * _scale(cm)))

    page.extract_text(visitor_text=visit)
    lines: list[_Line] = []
    pieces: list[str] = []
    size = 0.0
    for text, run_size in runs:
        for i, part in enumerate(text.split("\n")):
            if i:
                lines.append(_Line(normalize("".join(pieces)), size, number))
                pieces, size = [], 0.0
            if part.strip():
                pieces.append(part)
                size = max(size, run_size)
    lines.append(_Line(normalize("".join(pieces)), size, number))
    return [line for line in lines if line.text]


def _drop_furniture(pages: list[list[_Line]]) -> list[_Line]:
    """All lines but page numbers and headers/footers repeated on most pages."""
    edges = Counter(
        _DIGITS.sub("#", line.text) for lines in pages for line in {*lines[:2], *lines[-2:]}
    )
    repeated = {text for text, n in edges.items() if len(pages) >= 3 and n >= len(pages) / 2}
    return [
        line
        for lines in pages
        for i, line in enumerate(lines)
        if not _PAGE_NUMBER.match(line.text)
        and not ((i < 2 or i >= len(lines) - 2) and _DIGITS.sub("#", line.text) in repeated)
    ]


def _blocks(lines: list[_Line]) -> tuple[str, list[Block]]:
    """The title (first heading before any text) and the blocks, paragraphs rejoined."""
    sizes = Counter()
    for line in lines:
        sizes[round(line.size, 1)] += len(line.text)
    body_size = sizes.most_common(1)[0][0] if sizes else 0.0
    sized = len(sizes) > 1
    title = ""
    blocks: list[Block] = []
    pending: _Line | None = None
    previous: _Line | None = None  # the line before, when it was a heading
    for line in lines:
        if sized:
            heading = line.size >= body_size * HEADING_SCALE
        else:
            found = classify(line.text)
            heading = pending is None and found is not None and found.kind is Kind.HEADING
        heading = heading and len(line.text) <= SUBTITLE_MAX_CHARS
        if pending is not None and not heading and not ends_sentence(pending.text):
            pending = _Line(join_broken(pending.text, line.text), pending.size, pending.page)
            continue
        if pending is not None:
            blocks.append(Block("para", pending.text, pending.page))
            pending = None
        if heading and previous is not None and sized and line.size == previous.size:
            # A heading wrapped onto a second line, in the same size.
            if blocks:
                blocks[-1] = Block("heading", join_broken(blocks[-1].text, line.text), line.page)
            else:
                title = join_broken(title, line.text)
        elif heading and not title and not blocks:
            title = line.text
        elif heading:
            blocks.append(Block("heading", line.text, line.page))
        else:
            pending = line
        previous = line if heading else None
    if pending is not None:
        blocks.append(Block("para", pending.text, pending.page))
    return title, blocks


def _open(data: bytes, name: str) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFileError(
                f"{name}: the PDF is encrypted (password-protected): remove the password first"
            )
    except DependencyError as exc:
        raise UnreadableFileError(f"{name}: the PDF's encryption is not supported ({exc})") from exc
    except PyPdfError as exc:
        raise UnreadableFileError(f"{name}: the PDF is corrupt ({exc})") from exc
    return reader


def read_pdf(data: bytes, name: str, limits: ReadLimits) -> list[Document]:
    """The PDF's text layer as one document; refused when truncated, encrypted, corrupt
    or scanned (no text layer: OCR is not supported)."""
    refuse_mislabelled(data, name, "a PDF", "a PDF")
    if b"%%EOF" not in data[-2048:]:
        raise UnreadableFileError(
            f"{name}: the PDF is truncated (no end-of-file marker): upload the whole file"
        )
    reader = _open(data, name)
    try:
        pages = [_page_lines(page, i + 1) for i, page in enumerate(reader.pages)]
        info_title = (reader.metadata.title if reader.metadata else None) or ""
        author = (reader.metadata.author if reader.metadata else None) or ""
    # A damaged file can fail anywhere inside the parser, with any exception.
    except Exception as exc:  # noqa: BLE001
        raise UnreadableFileError(
            f"{name}: the PDF is corrupt ({type(exc).__name__}: {exc})"
        ) from exc
    if not any(pages):
        raise UnreadableFileError(
            f"{name}: no text layer: OCR is not supported "
            f"({len(pages)} page{'s' * (len(pages) != 1)} of images only)"
        )
    title, blocks = _blocks(_drop_furniture(pages))
    metadata = {"author": " ".join(str(author).split())} if str(author).strip() else {}
    document = build_document(name, title or str(info_title) or name, blocks, metadata)
    return [document] if document is not None else []
