"""Asks of a multi-part question, and whether a sentence fills what an ask wants."""

from __future__ import annotations

import pytest

from rag.answering.asks import several_asks, split_asks
from rag.answering.slots import asked_clauses, fills, slot_of, slots


def _no_people(text: str) -> list[str]:
    return []


def test_multi_part_questions_split_into_their_asks_in_order() -> None:
    assert split_asks("这个组织叫什么?是谁牵头的?现在有多少人?") == [
        "这个组织叫什么?",
        "是谁牵头的?",
        "现在有多少人?",
    ]
    assert split_asks("How many instructors were assigned, and how many firms do they visit?") == [
        "How many instructors were assigned",
        "how many firms do they visit?",
    ]
    assert split_asks("涪口区有多少名党员?") == ["涪口区有多少名党员?"]


def test_full_width_punctuation_splits_as_ascii_does() -> None:
    """Readers type ？ and ，; the question set happens to use ASCII."""
    assert split_asks("这个组织叫什么？是谁牵头的？") == ["这个组织叫什么？", "是谁牵头的？"]
    assert asked_clauses("北塔区的夜校学习班办起来以后，到现在一共培训了多少人次？") == [
        "到现在一共培训了多少人次？"
    ]


def test_several_asks_needs_two_questions_not_a_lead_in() -> None:
    assert several_asks("叫什么？是谁牵头的?")
    assert several_asks("How many mentors does it have, and how many students does it train?")
    assert several_asks("叫什么?是谁牵头的")  # the last ask without its mark
    assert several_asks("Roughly how many people live there, and how many workshops are there?")
    assert not several_asks("Up to now, how many times has Liuyang run its theme Party day?")
    assert not several_asks("涪口区有多少名党员？")


@pytest.mark.parametrize(
    ("ask", "kind"),
    [
        ("那361套干部周转房一共花了多少钱建成?", "money"),
        ("设立了多少亿元的专项资金?", "money"),
        ("桂阳县古郡志愿者协会是哪一年成立的?", "date"),
        ("涪口区有多少名党员干部参与包片包干?", "number"),
        ("大成村的第一书记是谁?", "person"),
        ("按“凡进必审”得走哪几道程序?", ""),
        ("Who heads the expert service group?", "person"),
        ("How much did the project cost in total?", "money"),
    ],
)
def test_the_kind_of_answer_an_ask_wants(ask: str, kind: str) -> None:
    assert slot_of(ask).kind == kind


def test_a_figure_the_question_already_states_does_not_fill_it() -> None:
    question = "涪口区那361套干部周转房一共花了多少钱建成?"
    (slot,) = slots(question)
    assert not fills(slot, "7个镇361套干部周转房全部竣工投入使用。", question, _no_people)
    assert fills(slot, "361套周转房共投资5000多万元。", question, _no_people)


def test_counts_written_out_fill_a_number_ask() -> None:
    question = "社区干部花了多久让施工队进场?有几个施工队?"
    number = slots(question)[1]
    assert fills(number, "一个星期,两个施工队就进场开工了。", question, _no_people)
    assert not fills(number, "施工队就进场开工了。", question, _no_people)


def test_a_person_ask_needs_a_name_the_question_lacks() -> None:
    question = "大成村的第一书记是谁?"
    (slot,) = slots(question)
    names = {"第一书记陶佑朋驻村后": ["陶佑朋"], "大成村的第一书记驻村后": []}
    assert fills(slot, "第一书记陶佑朋驻村后", question, names.__getitem__)
    assert not fills(slot, "大成村的第一书记驻村后", question, names.__getitem__)


def test_a_year_ask_is_not_filled_by_a_day() -> None:
    question = "北塔区区委书记肖平的出生年份是哪一年?"
    (slot,) = slots(question)
    assert not fills(slot, "3月8日,北塔区区委书记肖平语气坚决。", question, _no_people)
    assert fills(slot, "肖平1968年出生。", question, _no_people)


def test_each_ask_has_the_clause_that_holds_its_question_word() -> None:
    assert asked_clauses("北塔区的夜校学习班办起来以后,到现在一共培训了多少人次?") == [
        "到现在一共培训了多少人次?"
    ]
    assert asked_clauses("叫什么?是谁牵头的?") == ["叫什么?", "是谁牵头的?"]
