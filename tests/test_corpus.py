"""The reader on the real seed pages: articles, structure, repairs, what is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.corpus import parse_articles, read_corpus
from rag.corpus.files import decode_text
from rag.errors import CorpusError


def titles(documents, source_prefix: str) -> list[str]:
    return [d.title for d in documents if d.source.startswith(source_prefix)]


def test_file_000_holds_two_reports(seed_documents):
    assert titles(seed_documents, "000") == [
        "党建有活力 发展添动力",
        "借力“外脑”补短板 提质发展惠民生",
    ]
    first = next(d for d in seed_documents if d.title == "党建有活力 发展添动力")
    assert first.subtitle == "涪口区党建引领基层治理工作纪实"
    assert [s.title for s in first.sections if s.title] == [
        "组织强引领,振兴乡村方向明",
        "党员强示范,一线锤炼淬党性",
        "阵地强功能,服务贴心聚民心",
    ]


def test_file_001_holds_the_report_and_five_short_items(seed_documents):
    assert titles(seed_documents, "001") == [
        "让党旗在基层一线高高飘扬",
        "苏仙电力项目建设驱动高质量发展",
        "湘商回归 产业兴旺",
        "株洲经开区举行第四次企业家沙龙活动",
        "安化禁毒宣传伞上做文章",
        "打造培养卓越工程师的摇篮",
    ]


def test_every_file_is_read_and_sections_index_into_text(seed_documents):
    assert {d.source[:3] for d in seed_documents} == {"000", "001", "002", "003", "004"}
    assert len({d.doc_id for d in seed_documents}) == len(seed_documents)
    for document in seed_documents:
        for section in document.sections:
            assert 0 <= section.start < section.end <= len(document.text)
            body = document.text[section.start : section.end]
            assert body == body.strip() and body


def test_speaker_sections_keep_the_speaker(seed_documents):
    forum = next(d for d in seed_documents if d.source.startswith("004"))
    section_titles = [s.title for s in forum.sections]
    assert "推动乡村振兴 健康有序发展(付铁梯)" in section_titles
    assert len([t for t in section_titles if t.endswith(")")]) == 9


@pytest.mark.parametrize(
    "repaired",
    [
        "该区多措并举推进电网建设,强化电能质量和分配能力",
        "北塔区区委书记肖平语气坚决、饱含深情。",
        "湖南省女企业家协会会长周志梅说。",
        "依托标准化规范化的便民服务站",
        "对经济困难党员给予帮助",
    ],
)
def test_sentences_broken_across_lines_are_repaired(seed_documents, repaired):
    assert any(repaired in d.text for d in seed_documents)


def test_real_paragraphs_are_not_glued(seed_documents):
    liuyang = next(d for d in seed_documents if d.source.startswith("002"))
    assert "\n人才兴则浏阳兴。\n" in liuyang.text
    anhua = next(d for d in seed_documents if d.title == "安化禁毒宣传伞上做文章")
    assert "打造培养卓越工程师" not in anhua.text


@pytest.mark.parametrize(
    "dropped",
    [
        "□",  # bylines
        "邹怡敏",
        "【作者",
        "李秉钧",
        "凌琳",
        "我要举报",  # web chrome
        "登录后发表评论",
        "回顶部",
        "长沙晚报数字报",
        "热点新闻",
        "咏洲摄",  # photo captions
        "永安镇永和村美丽宜居村庄建设成果喜人",
        "桂阳县正和镇交粮回新村",
        "本版图片",
    ],
)
def test_bylines_captions_and_chrome_are_dropped(seed_documents, dropped):
    assert all(dropped not in d.text for d in seed_documents)


def test_people_named_in_the_text_are_kept(seed_documents):
    text = "\n".join(d.text for d in seed_documents)
    for name in ("曹志军", "张永红", "刘海军", "王庭恺", "付铁梯,醴陵市枫林镇"):
        assert name in text


def test_unreadable_files_are_skipped_with_a_reason(tmp_path: Path):
    (tmp_path / "good.md").write_text("# 标题\n\n某县推进基层治理,成效明显。\n", "utf-8")
    (tmp_path / "empty.txt").write_text("", "utf-8")
    (tmp_path / "latin1.txt").write_bytes("基层治理".encode("gb18030"))
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\x00\x00\x01")
    (tmp_path / "ignored.png").write_bytes(b"\x89PNG\x00\x00\x01")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj")
    report = read_corpus(tmp_path)
    assert report.files == ["good.md"]
    assert [d.title for d in report.documents] == ["标题"]
    assert set(report.skipped) == {"empty.txt", "latin1.txt", "binary.txt", "broken.pdf"}
    assert "truncated" in report.skipped["broken.pdf"]
    assert "UTF-8" in report.skipped["latin1.txt"]
    assert "empty" in report.skipped["empty.txt"]
    assert "binary" in report.skipped["binary.txt"]


def test_decode_rejects_non_text():
    with pytest.raises(CorpusError, match="not valid UTF-8"):
        decode_text(b"\xff\xfe\xfa", "x.txt")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_reader_never_crashes_on_arbitrary_text(text):
    for document in parse_articles(text, "fuzz.txt"):
        for section in document.sections:
            assert 0 <= section.start <= section.end <= len(document.text)


def test_metadata_found_in_the_text(seed_documents):
    by_title = {d.title: d.metadata for d in seed_documents}
    assert by_title["党建有活力 发展添动力"]["place"] == "涪口区"
    assert by_title["让党旗在基层一线高高飘扬"]["place"] == "北塔区"
    assert by_title["基层治理的桂阳模式"] == {
        "place": "桂阳县",
        "date": "2019",
        "newspaper": "郴州日报",
    }
    assert by_title["浏阳以党建赋能县域发展实现高位再进位能级再升级"]["newspaper"] == "长沙晚报"
