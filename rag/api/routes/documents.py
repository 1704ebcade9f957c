"""The indexed articles: a citation's `start:end` indexes into a document's `text`.

`POST /v1/documents` adds (or replaces) an article file and `DELETE /v1/documents/{id}`
removes one; both change the corpus folder and publish a new index generation
(`rag.documents`), then this worker swaps to it before answering.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.api.deps import ServicesDep
from rag.api.errors import readable
from rag.api.limits import lanes_of
from rag.api.schemas import DocumentResponse, DocumentsResponse, DocumentUploadBody, check_unicode
from rag.corpus.uploads import Upload, prepare_json_upload, prepare_upload
from rag.documents import AddResult, RemoveResult, add_documents, list_documents, remove_documents
from rag.errors import InvalidRequestError, UploadError, UploadTooLargeError

router = APIRouter(prefix="/v1", tags=["documents"])

# Room for the multipart envelope (boundaries, part headers, the metadata field).
FORM_OVERHEAD = 64 * 1024

UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "an article file: .txt, .md, .html, .htm, .pdf or .docx",
                    },
                    "metadata": {
                        "type": "string",
                        "description": 'a JSON object of strings, e.g. {"place": "桂阳县"}',
                    },
                },
            }
        },
        "application/json": {"schema": DocumentUploadBody.model_json_schema()},
    },
}


@router.get("/documents")
def documents(services: ServicesDep) -> DocumentsResponse:
    return DocumentsResponse(documents=list_documents(services.bundle.store))


@router.get("/documents/{doc_id}", responses={404: {"description": "no such document"}})
def get_document(doc_id: str, services: ServicesDep) -> DocumentResponse:
    document = services.bundle.store.document(doc_id)
    if document is None:
        raise HTTPException(404, f"no document with id '{doc_id}': see GET /v1/documents")
    return DocumentResponse(
        doc_id=document.doc_id,
        source=document.source,
        title=document.title,
        text=document.text,
        sections=document.sections,
        pages=document.pages,
    )


@router.post(
    "/documents",
    status_code=201,
    openapi_extra={"requestBody": UPLOAD_BODY},
    responses={
        413: {
            "description": "over the upload limit (RAG_MAX_UPLOAD_BYTES), or a .docx "
            "unpacking past RAG_MAX_UNPACKED_BYTES"
        },
        422: {
            "description": "an unsupported type, an extension that lies, a corrupt, truncated, "
            "encrypted or scanned file, no article text, a long title, bad metadata"
        },
        503: {"description": "busy (Retry-After), or a folder that cannot be written"},
        507: {"description": "no space left for the corpus or index folder"},
    },
)
async def add_document(request: Request, services: ServicesDep) -> AddResult:
    """Add an article file (multipart `file`, optional `metadata` JSON string field) or a
    JSON `{title, text, source, metadata}`. Re-adding a source replaces its articles;
    identical content is `unchanged`. The answer comes once the new index is live."""
    limit = services.settings.max_upload_bytes
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        body = await _read_body(request, limit + FORM_OVERHEAD, limit)
        upload = await _form_upload(request, body, limit, services.settings.max_unpacked_bytes)
    elif content_type in ("application/json", ""):
        # JSON escapes can double the size of the text.
        body = await _read_body(request, 2 * limit + FORM_OVERHEAD, limit)
        upload = _json_upload(body, limit)
    else:
        raise UploadError(
            f"unsupported content type '{content_type}': send multipart/form-data with a "
            "'file' field, or a JSON object {title, text, source, metadata}"
        )
    # Changes wait for the write lock anyway: the lane keeps them from holding every thread.
    async with lanes_of(request).writes.slot():
        results = await run_in_threadpool(
            add_documents, services.settings, services.embedder, [upload]
        )
        await _follow(request)
    return results[0]


@router.delete(
    "/documents/{doc_id}",
    responses={
        404: {"description": "no such document"},
        503: {"description": "busy (Retry-After), or a folder that cannot be written"},
        507: {"description": "no space left for the corpus or index folder"},
    },
)
async def delete_document(doc_id: str, request: Request, services: ServicesDep) -> RemoveResult:
    """Remove one article; its file goes too when it was the file's last article."""
    async with lanes_of(request).writes.slot():
        results = await run_in_threadpool(
            remove_documents, services.settings, services.embedder, [doc_id]
        )
        await _follow(request)
    return results[0]


async def _follow(request: Request) -> None:
    """Serve the generation this request just published from now on."""
    follower = getattr(request.app.state, "index_follower", None)
    if follower is not None:
        await run_in_threadpool(follower.reload_now, request.app.state)


async def _read_body(request: Request, cap: int, limit: int) -> bytes:
    """The request body, refused (413) as soon as it is known to be too large."""
    too_large = UploadTooLargeError(
        f"the upload is larger than the limit of {limit} bytes ({limit / 1_048_576:.1f} MB)"
    )
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        raise too_large
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > cap:
            raise too_large
        parts.append(part)
    return b"".join(parts)


async def _form_upload(request: Request, body: bytes, limit: int, unpacked_limit: int) -> Upload:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    form_request = Request(request.scope, replay)
    try:
        form = await form_request.form(max_files=1, max_fields=4, max_part_size=FORM_OVERHEAD)
    except StarletteHTTPException as exc:  # Starlette's own, not FastAPI's subclass
        raise UploadError(f"malformed multipart body: {exc.detail}") from exc
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise UploadError("send the article as a multipart field named 'file'")
        data = await file.read(limit + 1)
        metadata: object = None
        raw_metadata = form.get("metadata")
        if isinstance(raw_metadata, str) and raw_metadata.strip():
            try:
                metadata = json.loads(raw_metadata)
                check_unicode(metadata)
            except RecursionError as exc:
                raise UploadError("metadata is nested too deeply: send a flat JSON object") from exc
            except ValueError as exc:
                raise UploadError(f"metadata is not valid JSON ({exc})") from exc
        return prepare_upload(
            file.filename or "",
            data,
            metadata,
            limit=limit,
            unpacked_limit=unpacked_limit,
        )
    finally:
        await form.close()


def _json_upload(body: bytes, limit: int) -> Upload:
    try:
        payload = DocumentUploadBody.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidRequestError(readable(list(exc.errors()))) from exc
    return prepare_json_upload(
        payload.title, payload.text, payload.source, payload.metadata, limit=limit
    )
