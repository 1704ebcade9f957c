"""HTML pages (trafilatura): the article body without the page chrome, plus its metadata.

trafilatura drops navigation, ads, footers and comment boxes and finds the title, date,
byline and site name. Its body (headings, paragraphs, lists, table rows) is written out
as a markdown page and read like the scraped pages, so a page holding several articles
is split the same way (rag/corpus/articles.py).
"""

from __future__ import annotations

import re

import lxml.html
import trafilatura
from lxml import etree
from lxml.etree import _Element
from trafilatura.settings import Document as Extraction

from rag.corpus.articles import parse_articles
from rag.corpus.formats.base import ReadLimits, clip_title, sniff
from rag.corpus.lines import normalize
from rag.errors import UnreadableFileError
from rag.schemas import Document

_MARKUP = re.compile(rb"<\s*(?:!doctype\s+html|html|head|body|title|p|div|article)\b", re.I)
_HEADING = re.compile(r"^h([1-6])$")
# Less article text than this is what is left of a page without an article (an ad, a
# caption): no news report is that short.
MIN_ARTICLE_CHARS = 50


def _check_markup(data: bytes, name: str) -> None:
    found = sniff(data)
    if found is not None:
        raise UnreadableFileError(f"{name}: not an HTML page: the file holds {found}")
    if not data.strip():
        raise UnreadableFileError(f"{name}: file is empty")
    if b"\x00" in data or not _MARKUP.search(data[:65536]):
        raise UnreadableFileError(f"{name}: not an HTML page (no HTML markup found)")


def _text(element: _Element) -> list[str]:
    """The lines of an element's text (<lb/> is a line break)."""
    pieces = [element.text or ""]
    for node in element.iterdescendants():
        pieces.append("\n" if node.tag == "lb" else node.text or "")
        pieces.append(node.tail or "")
    return [line for raw in "".join(pieces).split("\n") if (line := normalize(raw))]


def _markdown(body: _Element, title: str) -> str:
    """The extracted body as a markdown page, the page title first unless a top heading
    already opens it."""
    lines: list[str] = []
    for element in body:
        heading = _HEADING.match(str(element.get("rend", ""))) if element.tag == "head" else None
        if heading:
            level = int(heading.group(1))
            lines.extend(f"{'#' * level} {text}" for text in _text(element)[:1])
        elif element.tag == "table":
            for row in element.iter("row"):
                cells = [" ".join(_text(cell)) for cell in row.iter("cell")]
                if any(cells):
                    lines.append(" | ".join(c for c in cells if c))
        elif element.tag == "list":
            for item in element.iter("item"):
                lines.extend(_text(item))
        else:
            lines.extend(_text(element))
        lines.append("")
    if title and not (lines and lines[0].startswith("# ")):
        lines[:0] = [f"# {title}", ""]
    return "\n".join(lines)


def _extract(page: bytes | str) -> Extraction | None:
    return trafilatura.bare_extraction(
        page,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_formatting=False,
        include_images=False,
        favor_precision=True,
    )


def _article_pages(data: bytes) -> list[str]:
    """Each <article> of a page that holds several, as a page of its own ([] otherwise):
    the extractor alone keeps only the main one."""
    try:
        tree = lxml.html.fromstring(data)
    except (etree.LxmlError, ValueError):
        return []
    articles = tree.xpath("//article[not(ancestor::article)]")
    if len(articles) < 2:
        return []
    return [f"<html><body>{lxml.html.tostring(a, encoding=str)}</body></html>" for a in articles]


def _has_body(extracted: Extraction | None) -> bool:
    return extracted is not None and extracted.body is not None and len(extracted.body) > 0


def read_html(data: bytes, name: str, limits: ReadLimits) -> list[Document]:
    """The page's articles; its date, byline and site name go into their metadata."""
    _check_markup(data, name)
    page = _extract(data)
    parts = [e for e in map(_extract, _article_pages(data)) if _has_body(e)]
    if not parts and _has_body(page):
        parts = [page]
    markdown = "\n".join(_markdown(e.body, clip_title(e.title or "")) for e in parts)
    documents = parse_articles(markdown, name)
    if sum(len(s.strip()) for d in documents for s in d.text.split("\n")) < MIN_ARTICLE_CHARS:
        raise UnreadableFileError(f"{name}: no article text found in the page")
    found = (
        {
            "date": page.date or "",
            "author": " ".join((page.author or "").split()),
            "site": " ".join((page.sitename or "").split()),
        }
        if page is not None
        else {}
    )
    for document in documents:
        document.title = clip_title(document.title)
        document.metadata.update({key: value for key, value in found.items() if value})
    return documents
