"""Metadata the text itself gives: place, date, newspaper.

Used for filters (`--place`, `--since/--until`); uploads may set or override any field.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter

import jieba
import jieba.posseg

from rag.schemas import Document

_NEWSPAPER = re.compile(r"([\u4e00-\u9fff]{2,4}(?:日报|晚报|早报|商报|都市报))")
_ADMIN = re.compile(r"^[\u4e00-\u9fff]{2,4}(?:市|区|县)$")
_GENERIC = re.compile(r"^(?:全|该|本|各|每|我|城|市|县|区|辖|园|社|地|景|片|小|省|新区|老区)")
_FULL_DATE = re.compile(r"((?:19|20)\d{2})年(\d{1,2})月(?:(\d{1,2})日)?")
_YEAR = re.compile(r"((?:19|20)\d{2})年")


def newspaper_of(page_text: str) -> str:
    """The newspaper named in a page's bylines or chrome ("郴州日报", "长沙晚报")."""
    found = Counter(_NEWSPAPER.findall(page_text))
    return found.most_common(1)[0][0] if found else ""


@functools.cache
def _tagger() -> jieba.posseg.POSTokenizer:
    """jieba's part-of-speech tagger, loaded once (its dictionary takes a second)."""
    jieba.setLogLevel(logging.WARNING)
    return jieba.posseg.POSTokenizer(jieba.Tokenizer())


def _admin_places(text: str) -> list[str]:
    return [
        p.word
        for p in _tagger().lcut(text)
        if _ADMIN.match(p.word) and not _GENERIC.match(p.word) and p.flag in ("ns", "x", "n")
    ]


def place_of(document: Document) -> str:
    """The county/district/city the article is about: the most specific one its title and
    subtitle name, else the one its text names most often."""
    named = _admin_places(f"{document.title} {document.subtitle}")
    if named:
        return sorted(named, key=lambda n: (n.endswith("市"), named.index(n)))[0]
    counts = Counter(_admin_places(document.text))
    return counts.most_common(1)[0][0] if counts else ""


def date_of(document: Document) -> str:
    """The latest dated event stated in the text, as ISO (YYYY-MM-DD, YYYY-MM or YYYY)."""
    dates = [
        (int(y), int(m), int(d) if d else 0)
        for y, m, d in _FULL_DATE.findall(document.text)
        if 1 <= int(m) <= 12
    ]
    if dates:
        y, m, d = max(dates)
        return f"{y:04d}-{m:02d}-{d:02d}" if d else f"{y:04d}-{m:02d}"
    years = [int(y) for y in _YEAR.findall(document.text)]
    return str(max(years)) if years else ""


def extract_metadata(document: Document, page_text: str) -> dict[str, str]:
    found = {
        "place": place_of(document),
        "date": date_of(document),
        "newspaper": newspaper_of(page_text),
    }
    return {key: value for key, value in found.items() if value}
