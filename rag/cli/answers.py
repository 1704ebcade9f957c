"""`rag search`, `rag ask`, `rag chat`: passages and cited answers on the terminal."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from rag.cli.common import (
    IndexOpt,
    JsonOpt,
    KOpt,
    LlmOpt,
    ModeOpt,
    PlaceOpt,
    SinceOpt,
    SourcesOpt,
    UntilOpt,
    app,
    make_filters,
    settings_from,
)
from rag.errors import RagError
from rag.query import check_mode

if TYPE_CHECKING:
    from rag.schemas import Answer, Hit


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
        typer.secho(f"[{rank}] {hit.score:.4f}  {heading}  ({where(hit)})", bold=True)
        typer.echo(f"    {hit.text}\n")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in Chinese or English.")],
    k: KOpt = 5,
    llm: LlmOpt = None,
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
    print_answer(answer)


def where(hit: Hit) -> str:
    """'report.pdf, p. 2' for a paginated source, else the file name."""
    return f"{hit.source}, p. {hit.page}" if hit.page is not None else hit.source


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
        typer.secho(f"[{citation.n}] {heading}  ({where(citation)})", bold=True)
        typer.echo(f"    {citation.text}")


@app.command()
def chat(
    k: KOpt = 5,
    llm: LlmOpt = None,
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
    services = Services.start(settings_from(index=index))
    services.answerer.client(llm)  # an unknown --llm fails now, not at every question
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
