"""`rag eval`: a question set's retrieval and answer metrics, per question type."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from rag.cli.common import (
    IndexOpt,
    JsonOpt,
    KOpt,
    ModeOpt,
    app,
    settings_from,
)
from rag.query import check_mode


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
    split: Annotated[
        str, typer.Option("--split", help="dev (tuned on), test or holdout (reported) or all.")
    ] = "all",
    origin: Annotated[
        str,
        typer.Option("--origin", help="reader (own words), seed (the articles' wording) or all."),
    ] = "all",
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Only the first N questions (0: all).")
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Run a question set: retrieval metrics, then answer metrics, per question type."""
    from rag.evaluation import (
        evaluate_answers,
        evaluate_retrieval,
        load_questions,
        select_split,
        summarize_answers,
        summarize_retrieval,
        write_results,
    )
    from rag.services import Services

    search_mode = check_mode(mode, "--mode")
    qs = select_split(load_questions(questions), split, origin)
    qs = qs[:limit] if limit else qs
    services = Services.start(settings_from(index=index))
    started = time.perf_counter()
    records = evaluate_retrieval(services.retriever, qs, search_mode)
    answer_records = evaluate_answers(services.answerer, qs, llm) if answers else []
    summary = summarize_retrieval(records, k)
    answer_summary = summarize_answers(answer_records) if answer_records else {}
    payload = {
        "questions": str(questions),
        "split": split,
        "mode": search_mode,
        "k": k,
        "index": services.bundle.manifest.model_dump(),
        "retrieval": summary,
        "answers": answer_summary,
        "seconds": round(time.perf_counter() - started, 2),
        "records": [r.model_dump() for r in records],
        "answer_records": [r.model_dump() for r in answer_records],
    }
    path = write_results(results, f"eval-{split}-{search_mode}", payload)
    if as_json:
        typer.echo(
            json.dumps(
                {k_: v for k_, v in payload.items() if k_ != "records"},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    title = f"{split} split, {search_mode}, {len(records)} answerable questions"
    print_table(f"retrieval ({title})", summary)
    if answer_summary:
        used = llm or services.settings.llm
        print_table(
            f"answers ({used}, {split} split, {len(answer_records)} questions)", answer_summary
        )
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
