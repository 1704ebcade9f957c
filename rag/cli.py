"""The `rag` command: ingest, search, eval (and, as they land, ask and serve)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rag.config import SearchMode, Settings
from rag.errors import RagError

if TYPE_CHECKING:
    import subprocess

    from rag.retrieval import Filters
    from rag.schemas import Answer

app = typer.Typer(
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
    from pydantic import ValidationError

    from rag.retrieval import Filters

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


def check_mode(mode: str) -> SearchMode:
    if mode not in ("hybrid", "dense", "bm25"):
        raise fail(f"unknown --mode '{mode}': use hybrid, dense or bm25")
    return mode  # type: ignore[return-value]


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
    from rag.embedding import build_embedder
    from rag.index import build_index, load_index
    from rag.index.builder import stale_reasons

    settings = settings_from(source, index)
    if store is not None:
        from rag.index.vector_store import STORES

        if store not in STORES:
            raise fail(f"unknown --store '{store}': use {' or '.join(STORES)}")
        settings = settings.model_copy(update={"store": store})
    try:
        embedder = build_embedder(settings)
        if not force:
            try:
                manifest = load_index(settings.index_dir, settings).manifest
                if not stale_reasons(settings, embedder, manifest):
                    typer.echo(
                        f"index in {settings.index_dir} is up to date: {manifest.documents} "
                        f"articles, {manifest.chunks} chunks (use --force to rebuild)"
                    )
                    return
            except RagError:
                pass
        report = build_index(settings, embedder, progress=True)
    except RagError as exc:
        raise fail(str(exc)) from exc
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
    from rag.embedding import build_embedder
    from rag.index.updates import add_documents, parse_metadata_pairs, prepare_upload

    settings = settings_from(source, index)
    try:
        fields = parse_metadata_pairs(metadata or [])
        uploads = []
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise fail(f"{path}: cannot read ({exc.strerror})") from exc
            uploads.append(prepare_upload(path.name, data, fields, limit=settings.max_upload_bytes))
        results = add_documents(settings, build_embedder(settings), uploads)
    except RagError as exc:
        raise fail(str(exc)) from exc
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
    from rag.embedding import build_embedder
    from rag.index.updates import remove_documents

    settings = settings_from(source, index)
    try:
        results = remove_documents(settings, build_embedder(settings), doc_ids)
    except RagError as exc:
        raise fail(str(exc)) from exc
    for result in results:
        gone = " (file deleted)" if result.file_deleted else ""
        typer.echo(
            f"removed {result.doc_id} {result.title} from {result.source}{gone}, "
            f"{result.seconds:.1f}s"
        )


@app.command("list")
def list_articles(index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """List the indexed articles: id, source, title, place, date, chunks."""
    from rag.index.updates import list_documents

    settings = settings_from(index=index)
    try:
        documents = list_documents(settings.index_dir)
    except RagError as exc:
        raise fail(str(exc)) from exc
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
    from rag.retrieval import check_query
    from rag.schemas import SearchResult
    from rag.services import Services

    settings = settings_from(index=index)
    try:
        query = check_query(query, settings.max_question_chars)
    except RagError as exc:
        raise fail(str(exc)) from exc
    search_mode = check_mode(mode)
    filters = make_filters(source, place, since, until)
    try:
        services = Services.start(settings)
        hits = services.retriever.search(query, k=k, mode=search_mode, filters=filters)
    except RagError as exc:
        raise fail(str(exc)) from exc
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
    try:
        services = Services.start(settings_from(index=index))
        answer = services.answerer.answer(question, k=k, llm=llm, filters=filters)
    except RagError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    print_answer(answer)


def print_answer(answer: Answer) -> None:
    """The answer, then its sources; notes and warnings go to stderr (`ask`, `chat`)."""
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


@app.command()
def chat(
    k: KOpt = 5,
    llm: Annotated[
        str | None, typer.Option("--llm", help="LLM client: extractive (default), openai, ...")
    ] = None,
    source: SourcesOpt = None,
    place: PlaceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    index: IndexOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each answer as a JSON line.")
    ] = False,
) -> None:
    """Answer questions read one per line from stdin, follow-ups included ("那其他村干部呢?").

    Ends at end of input, an empty line or /exit. The prompt goes to stderr, as Python's
    does, so stdout holds only the answers.
    """
    from rag.schemas import ChatMessage
    from rag.services import Services

    filters = make_filters(source, place, since, until)
    try:
        services = Services.start(settings_from(index=index))
        services.answerer.client(llm)  # an unknown --llm fails now, not at every question
    except RagError as exc:
        raise fail(str(exc)) from exc
    history: list[ChatMessage] = []
    while True:
        typer.echo("? ", nl=False, err=True)
        line = sys.stdin.readline()  # "" at end of input
        question = line.strip()
        if not question or question == "/exit":
            return
        try:
            answer = services.answerer.answer(
                question, k=k, llm=llm, history=history, filters=filters
            )
        except RagError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            continue
        if as_json:
            typer.echo(answer.model_dump_json())
        else:
            print_answer(answer)
            typer.echo()
        history += [
            ChatMessage(role="user", content=question),
            ChatMessage(role="assistant", content=answer.answer),
        ]


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

    search_mode = check_mode(mode)
    try:
        qs = load_questions(questions)
        services = Services.start(settings_from(index=index))
        started = time.perf_counter()
        records = evaluate_retrieval(services.retriever, qs, search_mode)
        answer_records = evaluate_answers(services.answerer, qs, llm) if answers else []
    except RagError as exc:
        raise fail(str(exc)) from exc
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


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except RagError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(1)


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
    import os

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from rag.api.app import create_app
    from rag.embedding import build_embedder
    from rag.index import ensure_index
    from rag.services import Services

    if index is not None:
        # Workers are new processes that read their settings from the environment.
        os.environ["RAG_INDEX_DIR"] = str(index.resolve())
    settings = settings_from(index=index)
    lite_server = None
    try:
        if workers > 1:
            settings, lite_server = share_milvus_lite(settings)
        # Build here, once: N workers starting on a missing index would all build it. One
        # worker is this process: it serves what was loaded here instead of loading again.
        asgi_app: object = "rag.api.app:create_app"
        if workers == 1:
            asgi_app = create_app(settings, Services.start(settings, progress=True))
        else:
            ensure_index(settings, build_embedder(settings), progress=True)
    except RagError as exc:
        if lite_server is not None:
            lite_server.terminate()
        raise fail(str(exc)) from exc
    log_config = copy.deepcopy(LOGGING_CONFIG)
    # One line per request from rag.api replaces uvicorn's access log (no query strings).
    log_config["loggers"]["rag"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    try:
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
    loopback from one `milvus-lite server` process and point every worker (through
    RAG_MILVUS_URI, which they read at start) at that."""
    import os

    from rag.index.builder import milvus_uri, store_name
    from rag.index.milvus_store import is_lite, start_lite_server

    uri = milvus_uri(settings)
    if store_name(settings) != "milvus" or not is_lite(uri):
        return settings, None
    process, address = start_lite_server(str(Path(uri).resolve()))
    typer.echo(f"Milvus Lite {uri} served on {address} for the workers")
    os.environ["RAG_MILVUS_URI"] = address
    return settings.model_copy(update={"milvus_uri": address}), process
