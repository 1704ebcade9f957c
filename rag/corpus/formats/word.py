"""Word (.docx, python-docx): paragraphs, headings as sections, tables as text rows.

A .docx is a zip archive: the sizes its entries declare are checked before anything is
unpacked, so a small file that would inflate to gigabytes (a zip bomb) is refused.
Python's zipfile never inflates an entry past its declared size.
"""

from __future__ import annotations

import io
import re
import zipfile

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml.etree import LxmlError

from rag.corpus.formats.base import Block, ReadLimits, build_document, refuse_mislabelled
from rag.corpus.lines import normalize
from rag.errors import UnpackTooLargeError, UnreadableFileError
from rag.schemas import Document

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)?$", re.IGNORECASE)
_TITLE_STYLE = re.compile(r"^(?:title|标题)$", re.IGNORECASE)
MAIN_PART = "word/document.xml"


def _check_archive(data: bytes, name: str, limits: ReadLimits) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableFileError(f"{name}: a corrupt .docx ({exc})") from exc
    if MAIN_PART not in {entry.filename for entry in entries}:
        raise UnreadableFileError(f"{name}: a zip archive but not a Word document (no {MAIN_PART})")
    unpacked = sum(entry.file_size for entry in entries)
    if unpacked > limits.max_unpacked_bytes:
        raise UnpackTooLargeError(
            f"{name}: unpacks to {unpacked} bytes, over the limit of "
            f"{limits.max_unpacked_bytes} bytes (RAG_MAX_UNPACKED_BYTES)"
        )


def _style(paragraph: Paragraph) -> str:
    style = paragraph.style
    return (style.name or "") if style is not None else ""


def _table_rows(table: Table) -> list[str]:
    """Each row as 'cell | cell | …' (a merged cell once)."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = normalize(" ".join(cell.text.split()))
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return rows


def _blocks(document: docx.document.Document) -> tuple[str, list[Block]]:
    title = ""
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(Block("para", row) for row in _table_rows(item))
            continue
        text = normalize(item.text)
        if not text:
            continue
        style = _style(item)
        heading = _HEADING_STYLE.match(style)
        if not title and (_TITLE_STYLE.match(style) or (heading and not blocks)):
            title = text
            continue
        if heading:
            blocks.append(Block("heading", text))
        else:
            blocks.append(Block("para", text))
    return title, blocks


def read_docx(data: bytes, name: str, limits: ReadLimits) -> list[Document]:
    """The document's paragraphs, headings and tables, in reading order."""
    refuse_mislabelled(data, name, "a zip archive such as .docx", "a Word document")
    _check_archive(data, name, limits)
    try:
        document = docx.Document(io.BytesIO(data))
        title, blocks = _blocks(document)
        properties = document.core_properties
        info = {"author": properties.author or "", "title": properties.title or ""}
    except (zipfile.BadZipFile, KeyError, ValueError, LxmlError) as exc:
        raise UnreadableFileError(f"{name}: a corrupt .docx ({exc})") from exc
    metadata = {"author": " ".join(info["author"].split())} if info["author"].strip() else {}
    result = build_document(name, title or info["title"] or name, blocks, metadata)
    return [result] if result is not None else []
