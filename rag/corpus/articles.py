"""Split one classified page into articles, repair broken sentences, record sections."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from rag.corpus.lines import Kind, Line, classify_lines, is_name_list, join_broken
from rag.corpus.metadata import extract_metadata
from rag.schemas import Document, Section

_NUMBER_ONLY = re.compile(r"^[\d一二三四五六七八九十]+[.、]?$")


@dataclass
class _Draft:
    title: str
    subtitle: list[str] = field(default_factory=list)
    # ("heading", text) or ("para", text), in page order.
    blocks: list[tuple[str, str]] = field(default_factory=list)
    ended: bool = False

    @property
    def has_body(self) -> bool:
        return any(kind == "para" for kind, _ in self.blocks)


def _repair(lines: list[Line]) -> list[Line]:
    """Join a fragment with the body line that continues it; nothing else is glued."""
    out: list[Line] = []
    pending: Line | None = None
    for line in lines:
        if line.kind in (Kind.CAPTION, Kind.CHROME):
            out.append(line)
            continue
        if pending is not None:
            if line.kind in (Kind.BODY, Kind.FRAGMENT):
                line = Line(
                    line.kind, join_broken(pending.text, line.text), indented=pending.indented
                )
            else:
                out.append(Line(Kind.BODY, pending.text, indented=pending.indented))
            pending = None
        if line.kind is Kind.FRAGMENT:
            pending = line
        else:
            out.append(line)
    if pending is not None:
        out.append(Line(Kind.BODY, pending.text, indented=pending.indented))
    return out


def _heading_runs(lines: list[Line]) -> list[list[Line] | Line]:
    """Group consecutive headings (bylines between them stay in the run)."""
    grouped: list[list[Line] | Line] = []
    for line in lines:
        if line.kind in (Kind.CAPTION, Kind.CHROME):
            continue
        in_run = grouped and isinstance(grouped[-1], list)
        if line.kind is Kind.HEADING or (line.kind is Kind.BYLINE and in_run):
            if in_run:
                grouped[-1].append(line)  # type: ignore[union-attr]
            else:
                grouped.append([line])
        else:
            grouped.append(line)
    return grouped


def _starts_article(run: list[Line], draft: _Draft | None, article_level: int) -> int | None:
    """Index of the article title in a heading run, or None if the run is a section heading."""
    headings = [i for i, line in enumerate(run) if line.kind is Kind.HEADING]
    if article_level:
        return next((i for i in headings if run[i].level == article_level), None)
    if draft is None or draft.ended:
        return headings[0]
    for i in headings:
        if run[i].text.startswith("——") and i > 0 and run[i - 1].kind is Kind.HEADING:
            return i - 1
    if len(headings) >= 2:
        return headings[0]
    return None


def _section_title(run: list[Line]) -> str:
    """Join a run's headings into one title: '### 1' numbers are dropped, a speaker kept."""
    parts: list[str] = []
    for line in run:
        if line.kind is Kind.HEADING and not _NUMBER_ONLY.match(line.text):
            parts.append(line.text)
        elif line.kind is Kind.BYLINE and parts and is_name_list(line.text):
            parts[-1] += f"({line.text})"
    return " ".join(parts)


def _take_subtitles(run: list[Line], draft: _Draft, article_level: int) -> list[Line]:
    """Move the subtitles that follow a title into `draft`; return the rest of the run.

    Markdown pages mark subtitles one level below the title; plain pages put them
    between the title and the byline.
    """
    for i, line in enumerate(run):
        if line.kind is Kind.BYLINE:
            if not article_level:
                return run[i + 1 :]
            continue
        if article_level and line.level != article_level + 1:
            return run[i:]
        draft.subtitle.append(line.text)
    return []


def _drafts(lines: list[Line]) -> list[_Draft]:
    levels = [line.level for line in lines if line.kind is Kind.HEADING and line.level]
    article_level = min(levels) if levels else 0
    drafts: list[_Draft] = []
    draft: _Draft | None = None
    for item in _heading_runs(_repair(lines)):
        if isinstance(item, list):
            start = _starts_article(item, draft, article_level)
            if start is None:
                if draft is None:
                    draft = _Draft(title=_section_title(item))
                    drafts.append(draft)
                elif (
                    not draft.has_body
                    and not draft.blocks
                    and not article_level
                    or article_level
                    and not draft.has_body
                    and item[0].level == article_level + 1
                ):
                    draft.subtitle.append(_section_title(item))
                else:
                    draft.blocks.append(("heading", _section_title(item)))
                continue
            # Headings before the title belong to the previous article (e.g. a cut-off
            # last sentence that looks like a short heading).
            if draft is not None:
                draft.blocks.extend(
                    ("para", line.text) for line in item[:start] if line.kind is Kind.HEADING
                )
            draft = _Draft(title=item[start].text)
            drafts.append(draft)
            rest = _take_subtitles(item[start + 1 :], draft, article_level)
            if any(line.kind is Kind.HEADING for line in rest):
                draft.blocks.append(("heading", _section_title(rest)))
            continue
        line = item
        if line.kind is Kind.END_BYLINE:
            if draft is not None:
                draft.ended = True
            continue
        if line.kind is Kind.BYLINE:
            continue
        if draft is None:
            draft = _Draft(title="")
            drafts.append(draft)
        draft.blocks.append(("para", line.text))
    return [d for d in drafts if d.has_body]


def _to_document(draft: _Draft, source: str, ordinal: int) -> Document:
    parts: list[str] = []
    sections: list[Section] = []
    offset = 0
    current: Section | None = None
    for kind, text in draft.blocks:
        if kind == "heading":
            if current is not None:
                sections.append(current)
            parts.append(text)
            offset += len(text) + 1
            current = Section(title=text, start=offset, end=offset)
            continue
        if current is None:
            current = Section(title="", start=offset, end=offset)
        parts.append(text)
        offset += len(text) + 1
        current.end = offset - 1
    if current is not None:
        sections.append(current)
    text = "\n".join(parts)
    sections = [s for s in sections if s.end > s.start]
    title = draft.title or (draft.subtitle[0] if draft.subtitle else source)
    digest = hashlib.sha1(f"{source}\0{ordinal}\0{title}".encode()).hexdigest()[:12]
    return Document(
        doc_id=digest,
        source=source,
        title=title,
        subtitle=" ".join(s.lstrip("—").strip() for s in draft.subtitle),
        text=text,
        sections=sections,
    )


def parse_articles(raw_text: str, source: str) -> list[Document]:
    """Read one scraped page into its articles (empty list when it holds no body text)."""
    drafts = _drafts(classify_lines(raw_text))
    documents = [_to_document(d, source, i) for i, d in enumerate(drafts)]
    for document in documents:
        document.metadata = extract_metadata(document, raw_text)
    return documents
