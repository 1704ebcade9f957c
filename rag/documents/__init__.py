"""A growing corpus: add, replace, remove and list articles while the service runs.

The corpus folder (`settings.source_dir`) stays the source of truth, so `rag ingest`
always reproduces the index from it:

- an added file is written into the folder (a JSON upload becomes `# title\\n\\ntext` in a
  `.md` file); re-adding a source overwrites it, and identical bytes and metadata are a
  no-op ("unchanged");
- metadata set on upload, and articles removed out of multi-article files, are recorded
  in the folder's sidecar (`.rag-corpus.json`), which the reader applies and the corpus
  checksum covers; removing a file's last remaining article deletes the file.

Every writer (these changes, `rag ingest`, a stale index rebuilt at start-up) holds the
index's write lock across "resolve a change a crash interrupted, change the folder, build
a generation" (`build_index` reuses the live vectors, so only new passages are embedded):
two writers never interleave, in one process or several. If the build fails, the folder
is restored from the change's backup (rag/corpus/changes.py), so folder and index agree.
"""

from rag.documents.edits import (
    AddedDocument,
    AddResult,
    RemoveResult,
    add_documents,
    remove_documents,
)
from rag.documents.listing import DocumentSummary, list_documents, live_chunks
from rag.documents.writer import ensure_index, rebuild, recover

__all__ = [
    "AddResult",
    "AddedDocument",
    "DocumentSummary",
    "RemoveResult",
    "add_documents",
    "ensure_index",
    "list_documents",
    "live_chunks",
    "rebuild",
    "recover",
    "remove_documents",
]
