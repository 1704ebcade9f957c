"""The `rag` command: real index, real model, output shapes and error exits."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from rag.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_search_json_shape(index_copy):
    result = run(
        "search", "醴陵玻璃椒种植面积", "--k", "3", "--json", "--index", str(index_copy.index_dir)
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["query"] == "醴陵玻璃椒种植面积" and len(payload["hits"]) == 3
    keys = {"chunk_id", "doc_id", "source", "title", "section", "text", "start", "end", "score"}
    assert set(payload["hits"][0]) == keys


def test_search_human_output_shows_rank_title_and_passage(index_copy):
    result = run("search", "丰江管家", "--mode", "bm25", "--index", str(index_copy.index_dir))
    assert result.exit_code == 0
    assert "[1]" in result.stdout and "丰江管家" in result.stdout


def test_ask_json_shape(index_copy):
    result = run(
        "ask", "北塔区丰江管家有多少名成员?", "--json", "--index", str(index_copy.index_dir)
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["answerable"] and "56名" in answer["answer"]
    assert set(answer["timings_ms"]) == {"retrieve", "generate", "total"}
    assert answer["citations"][0]["n"] == 1


def test_bad_input_exits_non_zero_with_a_message(index_copy):
    index = str(index_copy.index_dir)
    for args, message in [
        (("search", "  ", "--index", index), "empty"),
        (("search", "?!\x07", "--index", index), "no letters or digits"),
        (("search", "党员", "--mode", "fuzzy", "--index", index), "unknown --mode"),
        (("ask", "", "--index", index), "empty"),
        (("ask", "党员有多少?", "--llm", "nope", "--index", index), "available"),
        (("eval", "missing.jsonl", "--index", index), "cannot read"),
    ]:
        result = run(*args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)


def test_ingest_reports_skipped_files_and_keeps_going(index_copy, tmp_path):
    (index_copy.source_dir / "broken.txt").write_bytes(b"\xff\xfe\x00\x01")
    result = run(
        "ingest", "--source", str(index_copy.source_dir), "--index", str(index_copy.index_dir)
    )
    assert result.exit_code == 0, result.output
    assert "skipped broken.txt" in result.output
    assert "indexed 11 articles" in result.output


def test_ingest_is_a_no_op_when_up_to_date(index_copy):
    args = ("ingest", "--source", str(index_copy.source_dir), "--index", str(index_copy.index_dir))
    assert "up to date" in run(*args).output
