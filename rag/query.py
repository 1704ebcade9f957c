"""The query contract every layer shares: search modes, filters and the checks on a query.

It sits at the bottom (beside `schemas.py`) so that the stores, retrieval, answering, the
API and the CLI all speak the same `Filters` and modes without importing each other.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from rag.errors import InvalidRequestError
from rag.schemas import Document

SearchMode = Literal["hybrid", "dense", "bm25"]
SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_ISO_DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")
DATE_FORMATS = "YYYY, YYYY-MM or YYYY-MM-DD"


def question_language(text: str) -> str:
    """'zh' or 'en': how a query is searched and scored, and the language of its answer."""
    return "en" if len(_LATIN.findall(text)) > 2 * len(_CJK.findall(text)) else "zh"


# Every document is checked against every value, so the lists are bounded (a 422 beyond).
MAX_FILTER_VALUES = 50
MAX_FILTER_VALUE_CHARS = 200
FilterValues = Annotated[
    list[Annotated[str, StringConstraints(max_length=MAX_FILTER_VALUE_CHARS)]] | None,
    Field(default=None, max_length=MAX_FILTER_VALUES),
]


def is_iso_date(value: str) -> bool:
    """A date as articles state it and filters compare it: YYYY, YYYY-MM or YYYY-MM-DD."""
    return bool(_ISO_DATE.match(value))


def check_mode(mode: str, what: str = "search mode") -> SearchMode:
    if mode not in SEARCH_MODES:
        raise InvalidRequestError(f"unknown {what} '{mode}': use one of {', '.join(SEARCH_MODES)}")
    return mode  # type: ignore[return-value]


def check_query(text: str, limit: int, what: str = "query") -> str:
    """The stripped query, or a clear 4xx-bound error: empty, too long, or no words at all
    (control characters or punctuation alone would otherwise be "answered")."""
    text = text.strip()
    if not text:
        raise InvalidRequestError(f"the {what} is empty")
    if len(text) > limit:
        raise InvalidRequestError(
            f"the {what} is {len(text)} characters long; the limit is {limit}"
        )
    if not any(ch.isalnum() for ch in text):
        raise InvalidRequestError(f"the {what} has no letters or digits")
    return text


class Filters(BaseModel):
    """Restrict retrieval before ranking. Unknown fields are an error, never ignored.

    Dates are ISO prefixes (2021, 2021-06, 2021-06-30) compared with the article's stated
    date; an article dated only "2021" matches any filter touching that year.
    """

    model_config = ConfigDict(extra="forbid")

    source: FilterValues = None
    doc_id: FilterValues = None
    place: FilterValues = None
    since: str | None = None
    until: str | None = None

    @field_validator("source", "doc_id", "place", mode="before")
    @classmethod
    def _listify(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("since", "until")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None and not is_iso_date(value):
            raise ValueError(f"'{value}' is not a date: use {DATE_FORMATS}")
        return value

    def is_empty(self) -> bool:
        return not (self.source or self.doc_id or self.place or self.since or self.until)

    def admits(self, document: Document) -> bool:
        meta = document.metadata
        if self.source and document.source not in self.source:
            return False
        if self.doc_id and document.doc_id not in self.doc_id:
            return False
        if self.place and not any(p in meta.get("place", "") for p in self.place):
            return False
        date = meta.get("date", "")
        if (self.since or self.until) and not date:
            return False
        # Compare on the shorter precision: "2021" is on or after "2021-06".
        if self.since and date < self.since[: len(date)]:
            return False
        return not (self.until and date[: len(self.until)] > self.until)
