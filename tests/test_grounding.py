"""Whether a model's unsupported answer found anything in the passages (grounding.py)."""

from __future__ import annotations

import pytest

from rag.answering.grounding import adds_figure, found_answer

QUESTION = "永州上半年签约的106个湘商回归项目中,已经开工建设的有多少个?"
PASSAGES = [
    "1至6月,全市签约“湘商回归”项目106个,总投资324亿元;新注册湘商企业91个,全省排名第一。",
    "永州市大力推动“湘商回归”工程,深入开展“迎老乡、回故乡、建家乡”行动。",
]


@pytest.mark.parametrize(
    ("answer", "found"),
    [
        # What the passages hold, reworded: found.
        ("永州上半年签约的湘商回归项目总投资达到324亿元[1]。", True),
        ("根据资料[1],上半年新注册的湘商企业有91个,在全省排名第一。", True),
        # A figure of its own: "85" is nowhere in the passages.
        ("根据资料[1],永州市上半年签约的106个湘商回归项目中,已经开工建设的有85个。", False),
        # The question restated around a marker: nothing added.
        ("已经开工建设的湘商回归项目有[1]个。", False),
        ("[1]", None),  # nothing written at all: nothing to tell by
        # English: shares little but numbers with Chinese passages, so it is not read.
        ("Of the 106 projects signed, 85 had started construction [1].", None),
    ],
)
def test_an_answer_is_found_when_what_it_adds_is_in_the_passages(answer, found):
    assert found_answer(answer, QUESTION, PASSAGES) is found


def test_an_english_question_is_read_with_the_chinese_words_it_spells():
    """The pipeline passes the question with the names an English question spells: a
    Chinese answer repeating those names adds nothing by them."""
    spelled = "Who heads Yongzhou's 湘商回归 drive? 永州"
    assert found_answer("永州的湘商回归工作由[1]负责。", spelled, PASSAGES) is False


def test_markers_in_any_style_and_thousands_separators_are_not_content():
    assert found_answer("全市签约项目106个【1】,总投资324亿元。", QUESTION, PASSAGES) is True
    assert found_answer("开工项目达1,060个[2]。", QUESTION, ["开工项目达1060个。"]) is True


@pytest.mark.parametrize(
    ("answer", "adds"),
    [
        # The passages' figure for something else, put in the asked place.
        ("已经开工建设的湘商回归项目有91个[1]。", True),
        ("开工项目达1,060个[2]。", True),
        # Only the question's own figures: nothing stated by them.
        ("106个湘商回归项目正在推进建设[1]。", False),
        ("湘商回归项目正在陆续开工建设。", False),
        # English never passes the check word for word, so it is not read.
        ("91 of the 106 projects had started construction [1].", None),
    ],
)
def test_a_figure_the_question_does_not_state_is_found(answer, adds):
    assert adds_figure(answer, QUESTION) is adds
