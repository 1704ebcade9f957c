"""The indexed articles: a citation's `start:end` indexes into a document's `text`."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from rag.api.deps import ServicesDep
from rag.api.schemas import DocumentResponse, DocumentsResponse, DocumentSummary

router = APIRouter(prefix="/v1", tags=["documents"])


@router.get("/documents")
def list_documents(services: ServicesDep) -> DocumentsResponse:
    store = services.bundle.store
    return DocumentsResponse(
        documents=[
            DocumentSummary(
                doc_id=d.doc_id,
                source=d.source,
                title=d.title,
                sections=d.sections,
                chars=len(d.text),
                chunks=store.chunk_count(d.doc_id),
            )
            for d in store.documents
        ]
    )


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
    )
