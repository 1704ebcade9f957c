"""`rag ingest`, `rag add`, `rag remove`, `rag list`: the corpus folder and its index."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from rag.cli.common import (
    IndexOpt,
    JsonOpt,
    SourceOpt,
    app,
    fail,
    settings_from,
)


@app.command()
def ingest(
    source: SourceOpt = None,
    index: IndexOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if up to date.")] = False,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Vector store: faiss or milvus (default: the index's)."),
    ] = None,
) -> None:
    """Read the corpus, chunk, embed and index it (skipped when the index is up to date)."""
    from rag.documents import ensure_index, rebuild
    from rag.embedding import build_embedder
    from rag.index.stores.factory import check_store

    settings = settings_from(source, index)
    if store is not None:
        settings = settings.model_copy(update={"store": check_store(store, "--store")})
    embedder = build_embedder(settings)
    if force:
        report = rebuild(settings, embedder, progress=True)
    else:
        bundle, report = ensure_index(settings, embedder, progress=True, log=lambda _: None)
        if report is None:
            m = bundle.manifest
            typer.echo(
                f"index in {settings.index_dir} is up to date: {m.documents} "
                f"articles, {m.chunks} chunks (use --force to rebuild)"
            )
            return
    m = report.manifest
    typer.echo(f"read {len(m.files)} files from {settings.source_dir}: {', '.join(m.files)}")
    for name, reason in report.skipped.items():
        typer.secho(f"skipped {name}: {reason}", fg=typer.colors.YELLOW, err=True)
    typer.echo(
        f"indexed {m.documents} articles as {m.chunks} chunks ({m.dense_index} {m.store} + BM25) "
        f"in {report.seconds:.1f}s ({report.embedded} embedded at "
        f"{report.embedded / max(report.embed_seconds, 1e-9):.1f} chunks/s, "
        f"{m.chunks - report.embedded} reused) -> {settings.index_dir}"
    )


@app.command()
def add(
    paths: Annotated[
        list[Path], typer.Argument(help="Files to add: .txt, .md, .html, .htm, .pdf, .docx.")
    ],
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", help="key=value for every article added (repeatable)."),
    ] = None,
    source: SourceOpt = None,
    index: IndexOpt = None,
) -> None:
    """Copy article files into the corpus folder and update the index (only new passages
    are embedded, with a progress bar). Re-adding a file replaces its articles; identical
    content is a no-op."""
    from rag.corpus.uploads import parse_metadata_pairs, prepare_upload
    from rag.documents import add_documents
    from rag.embedding import build_embedder

    settings = settings_from(source, index)
    fields = parse_metadata_pairs(metadata or [])
    uploads = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise fail(f"{path}: cannot read ({exc.strerror})") from exc
        uploads.append(
            prepare_upload(
                path.name,
                data,
                fields,
                limit=settings.max_upload_bytes,
                unpacked_limit=settings.max_unpacked_bytes,
            )
        )
    embedder = build_embedder(settings)
    with progress_bar() as progress:
        results = add_documents(settings, embedder, uploads, progress=progress)
    for result in results:
        articles = len(result.documents)
        chunks = sum(d.chunks for d in result.documents)
        typer.echo(
            f"{result.status} {result.source}: {articles} article{'s' * (articles != 1)}, "
            f"{chunks} chunk{'s' * (chunks != 1)}, {result.embedded} embedded, "
            f"{result.seconds:.1f}s"
        )
        for document in result.documents:
            typer.echo(f"    {document.doc_id}  {document.title}")


@contextlib.contextmanager
def progress_bar() -> Iterator[Callable[[int, int], None]]:
    """A bar on stderr (a terminal only) fed by the build's (done, total) progress."""
    from tqdm import tqdm

    with tqdm(desc="embedding", unit="text", file=sys.stderr, disable=None) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield progress


@app.command()
def remove(
    doc_ids: Annotated[list[str], typer.Argument(help="Document ids (see `rag list`).")],
    source: SourceOpt = None,
    index: IndexOpt = None,
) -> None:
    """Remove articles from the corpus folder and the index."""
    from rag.documents import remove_documents
    from rag.embedding import build_embedder

    settings = settings_from(source, index)
    results = remove_documents(settings, build_embedder(settings), doc_ids)
    for result in results:
        gone = " (file deleted)" if result.file_deleted else ""
        typer.echo(
            f"removed {result.doc_id} {result.title} from {result.source}{gone}, "
            f"{result.seconds:.1f}s"
        )


@app.command("list")
def list_articles(index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """List the indexed articles: id, source, title, place, date, chunks."""
    from rag.documents import list_documents, live_chunks

    documents = list_documents(live_chunks(settings_from(index=index).index_dir))
    if as_json:
        typer.echo(json.dumps([d.model_dump() for d in documents], ensure_ascii=False, indent=2))
        return
    for d in documents:
        typer.echo(
            f"{d.doc_id}  {d.source}  {d.title}  [{d.place or '-'}, {d.date or '-'}] "
            f"{d.chunks} chunks"
        )
