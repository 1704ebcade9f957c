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
    keys = {"chunk_id", "doc_id", "source", "title", "section", "text", "start", "end", "page"}
    keys.add("score")
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


FIRST = "北塔区村党组织书记的待遇提高了多少?"
FOLLOW_UP = "那其他村干部呢?"
BEITA_ARTICLE = "001_71199bcc3a10d29b.txt"


def chat(index_copy, *lines: str, options: tuple[str, ...] = ()):
    args = ["chat", "--index", str(index_copy.index_dir), *options]
    return runner.invoke(app, args, input="".join(f"{line}\n" for line in lines))


def test_chat_carries_the_place_into_a_follow_up(index_copy):
    result = chat(index_copy, FIRST, FOLLOW_UP, options=("--json",))
    assert result.exit_code == 0, result.output
    first, follow_up = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["answerable"] and "4100多元" in first["answer"]
    # The follow-up was retrieved and answered as a question about 北塔区.
    assert follow_up["question"].startswith("北塔区") and "其他村干部" in follow_up["question"]
    assert follow_up["answerable"] and "其他村两委干部" in follow_up["answer"]
    assert {c["source"] for c in follow_up["citations"]} == {BEITA_ARTICLE}
    assert result.stderr.count("? ") == 3  # a prompt per line read, and one at end of input


def test_chat_prints_sources_survives_a_bad_question_and_stops_at_exit(index_copy):
    result = chat(
        index_copy, FIRST, "?!\x07", FOLLOW_UP, "/exit", "桂阳县新时代文明实践中心由谁担任主任?"
    )
    assert result.exit_code == 0, result.output
    assert "error: the question has no letters or digits" in result.stderr
    assert result.stdout.count("\nsources:\n") == 2  # nothing answered after /exit
    assert result.stdout.count("[1] 让党旗在基层一线高高飘扬") == 2
    assert f"({BEITA_ARTICLE})" in result.stdout and "彭生智" not in result.stdout


def test_chat_ends_at_an_empty_line(index_copy):
    result = chat(index_copy, "", FIRST)
    assert result.exit_code == 0 and result.stdout == ""


def test_chat_fatal_errors_exit_non_zero(index_copy, tmp_path):
    result = chat(index_copy, FIRST, options=("--llm", "nope"))
    assert result.exit_code != 0 and "available" in result.stderr
    assert result.stdout == ""  # no question was read
    missing = runner.invoke(
        app,
        ["chat", "--index", str(tmp_path / "no-index")],
        input=f"{FIRST}\n",
        env={"RAG_SOURCE_DIR": str(tmp_path / "no-corpus")},
    )
    assert missing.exit_code != 0 and "source folder not found" in missing.stderr


def test_eval_refuses_an_unknown_split_or_origin_before_loading_anything(index_copy):
    index = str(index_copy.index_dir)
    for args, message in [
        (("eval", "--split", "train", "--index", index), "unknown split 'train'"),
        (("eval", "--origin", "web", "--index", index), "unknown origin 'web'"),
    ]:
        result = run(*args)
        assert result.exit_code == 1, args
        assert message in result.output, (args, result.output)


def test_a_bad_setting_is_one_line_naming_the_variable(index_copy):
    index = str(index_copy.index_dir)
    result = runner.invoke(
        app, ["search", "村部", "--index", index], env={"RAG_LLM_QUOTE": "sometimes"}
    )
    assert result.exit_code == 1
    assert "RAG_LLM_QUOTE='sometimes'" in result.stderr and "'parts'" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    assert index_copy.index_dir.is_dir()  # nothing was touched
