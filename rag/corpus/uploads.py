"""Checking an upload before it may become a corpus file: name, size, metadata, text.

Nothing here touches the corpus folder; `changes.py` writes what passed these checks.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from rag.corpus.files import parse_cached
from rag.corpus.formats import MAX_TITLE_CHARS, SUFFIXES, ReadLimits
from rag.errors import CorpusError, UploadError, UploadTooLargeError
from rag.query import DATE_FORMATS, is_iso_date
from rag.schemas import Document

MAX_NAME_CHARS = 120
MAX_METADATA_FIELDS = 20
MAX_METADATA_CHARS = 200
ACCEPTED = ", ".join(SUFFIXES)

_METADATA_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
_UNSAFE_CHARS = re.compile(r"[^\w.\-]+")


@dataclass
class Upload:
    """A validated file to add: a safe name, its bytes, its articles, optional metadata."""

    name: str
    data: bytes
    documents: list[Document]
    metadata: dict[str, str] = field(default_factory=dict)


def shown(raw: str) -> str:
    """A name as error messages quote it: cut short, repr'd (control characters visible)."""
    return repr(raw[:80] + ("…" if len(raw) > 80 else ""))


def safe_name(raw: str) -> str:
    """A plain base name for a corpus file, or UploadError.

    Directories are dropped (`../../x.md`, `/abs/x.md`, `C:\\\\x.md` -> `x.md`), control
    characters (NUL) and anything but letters, digits, `.`, `-`, `_` become `_`, leading
    dots are stripped (no hidden files), and only the extensions of rag/corpus/formats.
    """
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/")
    name = PurePosixPath("x/" + name).name if not name.endswith("/") else ""
    name = "".join("_" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in name)
    name = _UNSAFE_CHARS.sub("_", name).strip("._- ")
    name = re.sub(r"_{2,}", "_", name)
    stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix.lower()
    if not stem.strip("._-") or not suffix:
        if suffix or not stem:
            raise UploadError(f"file name {shown(raw)} has no usable name")
        raise UploadError(
            f"file name {shown(raw)} has no extension: only {ACCEPTED} files are accepted"
        )
    if suffix not in SUFFIXES:
        raise UploadError(
            f"file name {shown(raw)}: '{suffix}' files are not accepted, only {ACCEPTED}"
        )
    stem = stem[: MAX_NAME_CHARS - len(suffix)].rstrip("._-")
    return stem + suffix


def check_metadata(metadata: object) -> dict[str, str]:
    """Upload metadata: a flat object of short strings; `date` must be ISO (YYYY[-MM[-DD]])."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise UploadError('metadata must be a JSON object of strings, e.g. {"place": "桂阳县"}')
    if len(metadata) > MAX_METADATA_FIELDS:
        raise UploadError(
            f"metadata has {len(metadata)} fields; the limit is {MAX_METADATA_FIELDS}"
        )
    clean: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not _METADATA_KEY.match(key):
            raise UploadError(f"metadata key {shown(str(key))} must be a short ASCII identifier")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise UploadError(f"metadata.{key} must be a string")
        value = value.strip()
        if len(value) > MAX_METADATA_CHARS:
            raise UploadError(f"metadata.{key} is longer than {MAX_METADATA_CHARS} characters")
        if key == "date" and value and not is_iso_date(value):
            raise UploadError(f"metadata.date '{value}' is not a date: use {DATE_FORMATS}")
        if value:
            clean[key] = value
    return clean


def parse_metadata_pairs(pairs: list[str]) -> dict[str, str]:
    """`["place=桂阳县", "date=2023-05"]` (the CLI's --metadata) -> a checked dict."""
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UploadError(f"--metadata '{pair}' is not key=value")
        metadata[key.strip()] = value
    return check_metadata(metadata)


def check_size(name: str, size: int, limit: int) -> None:
    if size > limit:
        raise UploadTooLargeError(
            f"{name}: {size} bytes is over the upload limit of {limit} bytes "
            f"({limit / 1_048_576:.1f} MB)"
        )


def prepare_upload(
    raw_name: str,
    data: bytes,
    metadata: object = None,
    *,
    limit: int,
    unpacked_limit: int | None = None,
) -> Upload:
    """Validate a file upload: size, name, metadata, and its text extracted (at least one
    article). Every check runs here, before anything is stored, so a bad file is refused
    whether the rest of the upload runs now or later."""
    name = safe_name(raw_name)
    check_size(name, len(data), limit)
    metadata = check_metadata(metadata)
    limits = ReadLimits(unpacked_limit) if unpacked_limit is not None else ReadLimits()
    try:
        documents = parse_cached(data, name, limits)
    except CorpusError as exc:
        raise UploadError(str(exc)) from exc
    if not documents:
        raise UploadError(f"{name}: no article text found (only headings, bylines or captions)")
    for document in documents:
        if len(document.title) > MAX_TITLE_CHARS:
            raise UploadError(
                f"{name}: the title is {len(document.title)} characters long; "
                f"the limit is {MAX_TITLE_CHARS}"
            )
    return Upload(name=name, data=data, documents=documents, metadata=metadata)


def prepare_json_upload(
    title: str, text: str, source: str | None = None, metadata: object = None, *, limit: int
) -> Upload:
    """A JSON upload becomes the UTF-8 markdown file `# title\\n\\ntext` (named by `source`,
    or after the title), so the folder alone still reproduces the index."""
    title = " ".join((title or "").split())
    if not title:
        raise UploadError("title is empty")
    if len(title) > MAX_TITLE_CHARS:
        raise UploadError(f"title is {len(title)} characters long; the limit is {MAX_TITLE_CHARS}")
    if not (text or "").strip():
        raise UploadError("text is empty")
    if source and source.strip():
        raw_name = source
        suffix = PurePosixPath(raw_name.replace("\\", "/")).suffix.lower()
        if not suffix:
            raw_name += ".md"
        elif suffix in SUFFIXES and suffix not in (".md", ".txt"):
            raise UploadError(
                f"source {shown(source)}: a JSON upload is text, stored as .md or .txt; "
                f"send a {suffix} file as multipart 'file'"
            )
    else:  # named after the title, which may hold dots or slashes ("1.5万人", "图/文")
        raw_name = re.sub(r"[\\/.]", "_", title) + ".md"
    data = f"# {title}\n\n{text.strip()}\n".encode()
    check_size(safe_name(raw_name), len(data), limit)
    return prepare_upload(raw_name, data, metadata, limit=limit)
