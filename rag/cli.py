"""The `rag` command: ingest, add, remove, list, search, ask, eval, serve.

Imports of the heavy parts happen inside the commands, so `rag --help` stays instant.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from rag.config import Settings
from rag.errors import RagError
from rag.query import Filters, check_mode


class Commands(TyperGroup):
    """Every command's `RagError` becomes one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RagError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=1) from exc


app = typer.Typer(
    cls=Commands,
    help="Question answering with cited passages over Chinese news reports.",
    no_args_is_help=True,
    add_completion=False,
)

SourceOpt = Annotated[Path | None, typer.Option("--source", help="Folder of .txt/.md articles.")]
IndexOpt = Annotated[Path | None, typer.Option("--index", help="Index folder.")]
KOpt = Annotated[int, typer.Option("--k", min=1, max=50, help="Passages to return.")]
ModeOpt = Annotated[str, typer.Option("--mode", help="hybrid, dense or bm25.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SourcesOpt = Annotated[
    list[str] | None, typer.Option("--source", help="Only this source file (repeatable).")
]
PlaceOpt = Annotated[
    list[str] | None, typer.Option("--place", help="Only articles about this place (repeatable).")
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Articles dated on/after YYYY[-MM[-DD]].")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Articles dated on/before YYYY[-MM[-DD]].")
]


def make_filters(
    source: list[str] | None, place: list[str] | None, since: str | None, until: str | None
) -> Filters | None:
    """Filters from CLI options (None when none is given); bad dates exit with a message."""
    try:
        filters = Filters(source=source, place=place, since=since, until=until)
    except ValidationError as exc:
        raise fail(exc.errors()[0]["msg"]) from exc
    return None if filters.is_empty() else filters


def settings_from(source: Path | None = None, index: Path | None = None) -> Settings:
    overrides = {}
    if source is not None:
        overrides["source_dir"] = source
    if index is not None:
        overrides["index_dir"] = index
    return Settings(**overrides)


def fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


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
    paths: Annotated[list[Path], typer.Argument(help=".txt/.md article files to add.")],
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", help="key=value for every article added (repeatable)."),
    ] = None,
    source: SourceOpt = None,
    index: IndexOpt = None,
) -> None:
    """Copy article files into the corpus folder and update the index (only new passages
    are embedded). Re-adding a file replaces its articles; identical content is a no-op."""
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
        uploads.append(prepare_upload(path.name, data, fields, limit=settings.max_upload_bytes))
    results = add_documents(settings, build_embedder(settings), uploads)
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


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The question or keywords.")],
    k: KOpt = 5,
    mode: ModeOpt = "hybrid",
    source: SourcesOpt = None,
    place: PlaceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the passages that best match QUERY."""
    from rag.query import check_query
    from rag.schemas import SearchResult
    from rag.services import Services

    settings = settings_from(index=index)
    query = check_query(query, settings.max_question_chars)
    search_mode = check_mode(mode, "--mode")
    filters = make_filters(source, place, since, until)
    services = Services.start(settings)
    hits = services.retriever.search(query, k=k, mode=search_mode, filters=filters)
    result = SearchResult(query=query, mode=search_mode, hits=hits)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    if not hits:
        typer.echo("no passage matches")
    for rank, hit in enumerate(hits, start=1):
        heading = f"{hit.title} › {hit.section}" if hit.section else hit.title
        typer.secho(f"[{rank}] {hit.score:.4f}  {heading}  ({hit.source})", bold=True)
        typer.echo(f"    {hit.text}\n")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in Chinese or English.")],
    k: KOpt = 5,
    llm: Annotated[
        str | None, typer.Option("--llm", help="LLM client: extractive (default), openai, ...")
    ] = None,
    source: SourcesOpt = None,
    place: PlaceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    index: IndexOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer QUESTION from the corpus, citing the passages it rests on."""
    from rag.services import Services

    filters = make_filters(source, place, since, until)
    services = Services.start(settings_from(index=index))
    answer = services.answerer.answer(question, k=k, llm=llm, filters=filters)
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    typer.echo(answer.answer)
    if answer.fallback:
        typer.secho("(answered by the extractive fallback)", fg=typer.colors.YELLOW, err=True)
    for note in answer.notes:
        typer.secho(f"note: {note}", dim=True, err=True)
    for sentence in answer.unsupported_sentences:
        typer.secho(f"unsupported: {sentence}", fg=typer.colors.YELLOW, err=True)
    if answer.citations:
        typer.secho("\nsources:", bold=True)
    for citation in answer.citations:
        heading = f"{citation.title} › {citation.section}" if citation.section else citation.title
        typer.secho(f"[{citation.n}] {heading}  ({citation.source})", bold=True)
        typer.echo(f"    {citation.text}")


@app.command("eval")
def evaluate(
    questions: Annotated[Path, typer.Argument(help="Question set (JSON lines).")] = Path(
        "evals/questions.jsonl"
    ),
    mode: ModeOpt = "hybrid",
    k: KOpt = 5,
    index: IndexOpt = None,
    results: Annotated[Path, typer.Option("--results", help="Folder for full results.")] = Path(
        "evals/results"
    ),
    answers: Annotated[
        bool, typer.Option("--answers/--no-answers", help="Also answer and score answers.")
    ] = True,
    llm: Annotated[str | None, typer.Option("--llm", help="LLM client for answers.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a question set: retrieval metrics, then answer metrics, per question type."""
    from rag.evaluation import (
        evaluate_answers,
        evaluate_retrieval,
        load_questions,
        summarize_answers,
        summarize_retrieval,
        write_results,
    )
    from rag.services import Services

    search_mode = check_mode(mode, "--mode")
    qs = load_questions(questions)
    services = Services.start(settings_from(index=index))
    started = time.perf_counter()
    records = evaluate_retrieval(services.retriever, qs, search_mode)
    answer_records = evaluate_answers(services.answerer, qs, llm) if answers else []
    summary = summarize_retrieval(records, k)
    answer_summary = summarize_answers(answer_records) if answer_records else {}
    payload = {
        "questions": str(questions),
        "mode": search_mode,
        "k": k,
        "index": services.bundle.manifest.model_dump(),
        "retrieval": summary,
        "answers": answer_summary,
        "seconds": round(time.perf_counter() - started, 2),
        "records": [r.model_dump() for r in records],
        "answer_records": [r.model_dump() for r in answer_records],
    }
    path = write_results(results, f"eval-{search_mode}", payload)
    if as_json:
        typer.echo(
            json.dumps(
                {k_: v for k_, v in payload.items() if k_ != "records"},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    print_table(f"retrieval ({search_mode}, {len(records)} answerable questions)", summary)
    if answer_summary:
        used = llm or services.settings.llm
        print_table(f"answers ({used}, {len(answer_records)} questions)", answer_summary)
    typer.echo(f"full results: {path}")


def print_table(title: str, summary: dict[str, dict[str, float]]) -> None:
    columns = list(next(iter(summary.values())).keys())
    widths = [max(len(c), 6) + 2 for c in columns]
    typer.secho(title, bold=True)
    typer.echo(f"{'type':<13}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for name, row in summary.items():
        cells = "".join(
            f"{v:>{w}.3f}" if isinstance(v, float) else f"{v:>{w}}"
            for v, w in zip(row.values(), widths, strict=True)
        )
        typer.echo(f"{name:<13}{cells}")


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Interface (default RAG_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port (default 8000).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Worker processes (with Milvus Lite, one shared milvus-lite server is started).",
        ),
    ] = 1,
    index: IndexOpt = None,
) -> None:
    """Serve the HTTP API (OpenAI-compatible chat under /v1) until interrupted."""
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from rag.api.app import create_app
    from rag.documents import ensure_index
    from rag.embedding import build_embedder
    from rag.services import Services

    settings = settings_from(index=index)
    lite_server = None
    log_config = copy.deepcopy(LOGGING_CONFIG)
    # One line per request from rag.api replaces uvicorn's access log (no query strings).
    log_config["loggers"]["rag"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    try:
        # Build here, once: N workers starting on a missing index would all build it. One
        # worker is this process: it serves what was loaded here instead of loading again.
        asgi_app: object = "rag.api.app:create_app"
        if workers == 1:
            asgi_app = create_app(settings, Services.start(settings, progress=True))
        else:
            settings, lite_server = share_milvus_lite(settings)
            export_for_workers(settings)
            ensure_index(settings, build_embedder(settings), progress=True)
        uvicorn.run(
            asgi_app,
            factory=workers > 1,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_config=log_config,
            access_log=False,
        )
    finally:
        if lite_server is not None:
            lite_server.terminate()
            lite_server.wait(timeout=10)


def share_milvus_lite(settings: Settings) -> tuple[Settings, subprocess.Popen | None]:
    """Milvus Lite opens its folder in one process only: for several workers, serve it on
    loopback from one `milvus-lite server` process and point every worker at that."""
    from rag.index.stores.factory import StoreConfig, share_lite

    stores = StoreConfig.from_settings(settings)
    shared, process = share_lite(stores, settings.index_dir)
    if process is None:
        return settings, None
    typer.echo(f"Milvus Lite {stores.milvus_uri} served on {shared.milvus_uri} for the workers")
    return settings.model_copy(update={"milvus_uri": shared.milvus_uri}), process


def export_for_workers(settings: Settings) -> None:
    """uvicorn's workers are new processes that read their settings from `RAG_*`
    variables: the only settings this command changes are passed on that way."""
    os.environ["RAG_INDEX_DIR"] = str(Path(settings.index_dir).resolve())
    if settings.milvus_uri:
        os.environ["RAG_MILVUS_URI"] = settings.milvus_uri
