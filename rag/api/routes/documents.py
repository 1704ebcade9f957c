"""The indexed articles: a citation's `start:end` indexes into a document's `text`.

`POST /v1/documents` adds (or replaces) an article file and `DELETE /v1/documents/{id}`
removes one. The request validates (and, for an upload, stages) the change and answers
`202` with a job (`GET /v1/jobs/{id}`, rag/jobs); the job changes the corpus folder and
publishes a new index generation in the background. With `?wait=true` the answer waits
for the job and is the change's result, as `201` (added) or `200` (removed).
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Future
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.api.deps import JobsDep, ServicesDep
from rag.api.errors import readable
from rag.api.schemas import DocumentResponse, DocumentsResponse, DocumentUploadBody, check_unicode
from rag.corpus.uploads import Upload, prepare_json_upload, prepare_upload
from rag.documents import AddResult, RemoveResult, list_documents
from rag.errors import InvalidRequestError, UnknownDocumentError, UploadError, UploadTooLargeError
from rag.jobs import Job

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


WaitQuery = Annotated[
    bool,
    Query(description="answer once the change is live, with its result, instead of 202 + job"),
]
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": Job, "description": "accepted: the job (Location: /v1/jobs/{id})"},
}


@router.get("/documents")
def documents(services: ServicesDep) -> DocumentsResponse:
    return DocumentsResponse(documents=list_documents(services.bundle.store))


@router.get("/documents/{doc_id}", responses={404: {"description": "no such document"}})
def get_document(doc_id: str, services: ServicesDep) -> DocumentResponse:
    document = services.bundle.store.document(doc_id)
    if document is None:
        raise HTTPException(404, f"no document with id '{doc_id}': see GET /v1/documents")
    return DocumentResponse.of(document)


@router.post(
    "/documents",
    status_code=201,
    response_model=AddResult,
    openapi_extra={"requestBody": UPLOAD_BODY},
    responses={
        **ACCEPTED,
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
async def add_document(
    request: Request, services: ServicesDep, jobs: JobsDep, wait: WaitQuery = False
) -> AddResult | JSONResponse:
    """Add an article file (multipart `file`, optional `metadata` JSON string field) or a
    JSON `{title, text, source, metadata}`. Re-adding a source replaces its articles;
    identical content is `unchanged`. The upload is checked and stored, then indexed by a
    job (202); with `wait=true` the answer (201) comes once the new index is live."""
    limit = services.settings.max_upload_bytes
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        body = await _read_body(request, limit + FORM_OVERHEAD, limit)
        upload = await _form_upload(request, body, limit, services.settings.max_unpacked_bytes)
    elif content_type in ("application/json", ""):
        # JSON escapes can double the size of the text.
        body = await _read_body(request, 2 * limit + FORM_OVERHEAD, limit)
        upload = await run_in_threadpool(_json_upload, body, limit)
    else:
        raise UploadError(
            f"unsupported content type '{content_type}': send multipart/form-data with a "
            "'file' field, or a JSON object {title, text, source, metadata}"
        )
    job, done = await run_in_threadpool(jobs.submit_add, upload)
    return await _accepted_or_done(job, done, wait)


@router.delete(
    "/documents/{doc_id}",
    response_model=RemoveResult,
    responses={
        **ACCEPTED,
        404: {"description": "no such document"},
        503: {"description": "busy (Retry-After), or a folder that cannot be written"},
        507: {"description": "no space left for the corpus or index folder"},
    },
)
async def delete_document(
    doc_id: str, services: ServicesDep, jobs: JobsDep, wait: WaitQuery = False
) -> RemoveResult | JSONResponse:
    """Remove one article (a job, 202; with `wait=true` the result, 200); its file goes
    too when it was the file's last article."""
    document = services.bundle.store.document(doc_id)
    if document is None:
        raise UnknownDocumentError(f"no document with id '{doc_id}': see GET /v1/documents")
    job, done = await run_in_threadpool(jobs.submit_remove, doc_id, document.source, document.title)
    return await _accepted_or_done(job, done, wait)


async def _accepted_or_done(job: Job, done: Future[AddResult | RemoveResult], wait: bool) -> Any:
    """The job (202), or with `wait` its result once the new generation is served (the
    runner has this worker follow it first); a failed job raises its error here."""
    if wait:
        return await asyncio.wrap_future(done)
    return JSONResponse(
        job.model_dump(mode="json"), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"}
    )


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
        # Parsing a long article takes seconds: off the event loop, other requests go on.
        return await run_in_threadpool(
            partial(
                prepare_upload,
                file.filename or "",
                data,
                metadata,
                limit=limit,
                unpacked_limit=unpacked_limit,
            )
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
