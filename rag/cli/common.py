"""The `rag` command's shared parts: the app, its error handling, options and helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import click
import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from rag.config import Settings
from rag.errors import RagError
from rag.query import Filters


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
LlmOpt = Annotated[
    str | None, typer.Option("--llm", help="LLM client: extractive (default), openai, ...")
]
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
    try:
        return Settings(**overrides)
    except ValidationError as exc:  # a RAG_ variable (or .env line) the service cannot use
        raise fail("; ".join(_setting_error(e) for e in exc.errors())) from exc


def _setting_error(error: Any) -> str:
    name = "RAG_" + str(error["loc"][0]).upper() if error["loc"] else "a setting"
    return f"{name}={error['input']!r}: {error['msg']}"


def fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)
