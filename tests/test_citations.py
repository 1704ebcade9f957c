"""Citation markers: normalization, parsing into sentences, lexical support checking."""

from __future__ import annotations

import pytest

from rag.answering.attribution import attribute
from rag.answering.citations import (
    CitedSentence,
    check_support,
    normalize_markers,
    parse_citations,
    split_sentences,
    strict_support,
    support_score,
)

PASSAGES = [
    "涪口区组织4288名党员干部对村(社区)实行包片包干，实现全覆盖。",
    "合作社带动农户发展特色种植，每户年均增收约2万元。",
    "该镇新修硬化道路3条，总长12.5公里。",
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("增收[1]。", "增收[1]。"),
        ("增收[1][3]。", "增收[1][3]。"),
        ("增收[1, 3]。", "增收[1][3]。"),
        ("增收[1,3]。", "增收[1][3]。"),
        ("增收[1-3]。", "增收[1][2][3]。"),
        ("增收【1】。", "增收[1]。"),
        ("增收【1,2】。", "增收[1][2]。"),
        ("增收【1、2】。", "增收[1][2]。"),
        ("增收[^1]。", "增收[1]。"),
        ("增收(来源1)。", "增收[1]。"),
        ("增收（来源1）。", "增收[1]。"),
        ("增收(来源: 1, 2)。", "增收[1][2]。"),
        ("增收（来源：1、2）。", "增收[1][2]。"),
        ("增收[来源1]。", "增收[1]。"),
        ("Income rose (Source 1).", "Income rose [1]."),
        ("Income rose [source: 2].", "Income rose [2]."),
        ("增收^[1]。", "增收[1]。"),
        ("增收［１］。", "增收[1]。"),
        ("增收[1][来源2]【3】。", "增收[1][2][3]。"),
    ],
)
def test_marker_forms_are_normalized(raw: str, expected: str) -> None:
    assert normalize_markers(raw) == expected


@pytest.mark.parametrize(
    "prose",
    [
        "2021年增收约2万元。",
        "见[2021年数据]。",
        "见[2021]年报。",
        "第(1)项措施。",
        "２０２１年，全镇增收。",
        "共有[100]户。",
        "4288名党员干部（占全区的一半）。",
    ],
)
def test_prose_numbers_are_left_alone(prose: str) -> None:
    assert normalize_markers(prose) == prose


def test_split_keeps_trailing_markers_with_their_sentence() -> None:
    text = (
        "每户增收约2万元。[1] 新修道路3条[3]！他说：“很好。”[1][2]\n"
        "The road is 12.5 km long. It opened [3]\n[2]"
    )
    assert split_sentences(text) == [
        "每户增收约2万元。[1]",
        "新修道路3条[3]！",
        "他说：“很好。”[1][2]",
        "The road is 12.5 km long.",
        "It opened [3][2]",
    ]


def test_split_handles_semicolons_and_missing_final_punctuation() -> None:
    assert split_sentences("修路；建桥;  通车") == ["修路；", "建桥;", "通车"]


def test_parse_attaches_markers_and_drops_out_of_range() -> None:
    answer = "全区4288名党员干部包片包干【1】。每户增收约2万元。[2][7] 新修道路3条[0][3]。"
    parsed = parse_citations(answer, n_passages=3)
    assert parsed.dropped_markers == 2
    assert parsed.text == "全区4288名党员干部包片包干[1]。每户增收约2万元。[2] 新修道路3条[3]。"
    assert parsed.sentences == [
        CitedSentence("全区4288名党员干部包片包干。", [1]),
        CitedSentence("每户增收约2万元。", [2]),
        CitedSentence("新修道路3条。", [3]),
    ]
    assert parsed.cited == [1, 2, 3]


def test_parse_cited_in_first_appearance_order_and_distinct() -> None:
    parsed = parse_citations("甲[2][2]。乙[1-2]。", n_passages=2)
    assert parsed.sentences[0].markers == [2]
    assert parsed.sentences[1].markers == [1, 2]
    assert parsed.cited == [2, 1]


def test_verbatim_sentence_scores_one() -> None:
    assert support_score("每户年均增收约2万元", PASSAGES[1]) == 1.0
    assert support_score("涪口区组织4,288名党员干部", PASSAGES[0]) == 1.0


def test_a_figure_after_an_ellipsis_is_still_found() -> None:
    """NFKC makes "……" into dots, which must not read as the figure's decimal point."""
    passage = "他说起那段日子……8月16日,老人回到观音庵社区,大吃一惊。"
    sentence = "8月16日,老人回到观音庵社区,大吃一惊。"
    assert support_score(sentence, passage) == 1.0
    assert strict_support(sentence, passage) == 1.0


def test_wrong_number_caps_the_score() -> None:
    assert support_score("涪口区组织4200名党员干部对村(社区)实行包片包干", PASSAGES[0]) <= 0.3
    assert support_score("每户年均增收约2.5万元", PASSAGES[1]) <= 0.3
    assert support_score("总长12公里", PASSAGES[2]) <= 0.3  # 12 is not 12.5


def test_unrelated_sentence_scores_low() -> None:
    assert support_score("市民反映公交线路太少", PASSAGES[1]) < 0.2


def test_check_support_flags_wrong_number_and_uncited_claims() -> None:
    answer = (
        "涪口区组织4288名党员干部对村(社区)实行包片包干[1]。"
        "合作社带动每户年均增收约5万元[2]。"
        "该镇还新建了一所小学。"
        "综上所述：\n"
        "是的。"
    )
    parsed = parse_citations(answer, n_passages=3)
    assert check_support(parsed, PASSAGES) == [
        "合作社带动每户年均增收约5万元。",
        "该镇还新建了一所小学。",
    ]


def test_check_support_uses_the_best_cited_passage() -> None:
    parsed = parse_citations("该镇新修硬化道路3条，总长12.5公里[1][3]。", n_passages=3)
    assert check_support(parsed, PASSAGES) == []


def test_check_support_threshold_is_a_parameter() -> None:
    parsed = parse_citations("合作社带动农户发展特色种植，还办了培训班[2]。", n_passages=3)
    score = support_score(parsed.sentences[0].text, PASSAGES[1])
    assert 0.3 < score < 0.9
    assert check_support(parsed, PASSAGES, threshold=score) == []
    assert check_support(parsed, PASSAGES, threshold=0.9) == [parsed.sentences[0].text]


# -- system-attached citations (attribution.py) ---------------------------------------


def test_an_unmarked_sentence_gets_the_passage_that_supports_it() -> None:
    result = attribute("每户年均增收约2万元。新修硬化道路3条[3]。", PASSAGES)
    assert result.text == "每户年均增收约2万元。[2]新修硬化道路3条[3]。"
    assert result.cited == [2, 3] and result.claims == 2 and result.reattributed == 1
    assert result.unsupported == []


def test_a_wrong_marker_is_replaced_by_the_supporting_passage() -> None:
    result = attribute("该镇新修硬化道路3条，总长12.5公里[1]。", PASSAGES)
    assert result.text == "该镇新修硬化道路3条，总长12.5公里。[3]"
    assert result.cited == [3] and result.reattributed == 1


def test_a_right_marker_is_kept_as_written() -> None:
    result = attribute("涪口区4288名党员干部实行包片包干[1]。", PASSAGES)
    assert result.text == "涪口区4288名党员干部实行包片包干[1]。"
    assert result.reattributed == 0 and result.cited == [1]


def test_a_sentence_joining_two_passages_cites_both() -> None:
    result = attribute("合作社带动农户发展特色种植，该镇新修硬化道路3条。", PASSAGES)
    assert result.cited == [2, 3] and result.unsupported == []


@pytest.mark.parametrize("mode", ["drop", "flag"])
def test_unsupported_sentences_are_dropped_or_flagged(mode: str) -> None:
    answer = "每户年均增收约2万元[2]。该区还获得了全国文明城市称号[1]。"
    result = attribute(answer, PASSAGES, unsupported=mode)
    assert result.unsupported == ["该区还获得了全国文明城市称号。"]
    assert result.cited == [2] and result.claims == 1
    assert ("全国文明城市" in result.text) is (mode == "flag")
    assert "[2]" in result.text


def test_an_invented_clause_or_name_fails_the_strict_check() -> None:
    copied = "涪口区组织4288名党员干部对村(社区)实行包片包干"
    assert support_score(copied + "，并由李建国统一指挥", PASSAGES[0]) >= 0.5
    assert strict_support(copied + "，并由李建国统一指挥", PASSAGES[0]) <= 0.3
    assert strict_support("合作社带动“新农人”发展特色种植", PASSAGES[1]) <= 0.3
    assert strict_support(copied, PASSAGES[0]) == 1.0


def test_wrong_numbers_are_unsupported_whatever_the_marker() -> None:
    result = attribute("每户年均增收约2.5万元[2]。", PASSAGES)
    assert result.claims == 0 and result.unsupported == ["每户年均增收约2.5万元。"]
    assert result.text == ""


def test_connectives_stay_uncited_and_lines_are_kept() -> None:
    result = attribute("主要做法如下：\n1. 每户年均增收约2万元。\n2. 新修硬化道路3条。", PASSAGES)
    assert result.text == "主要做法如下：\n1.每户年均增收约2万元。[2]\n2.新修硬化道路3条。[3]"
    assert result.cited == [2, 3]


@pytest.mark.parametrize(
    ("answer", "declined"),
    [
        ("资料中没有提及。", True),
        ("根据资料，无法确定具体人数。", True),
        ("The passages do not mention it.", True),
        ("每户年均增收约2万元[2]。", False),
    ],
)
def test_a_decline_in_words_is_recognized(answer: str, declined: bool) -> None:
    assert attribute(answer, PASSAGES).declined is declined


def test_a_decline_beside_a_supported_claim_answers_one_ask_and_is_not_a_refusal() -> None:
    result = attribute("每户年均增收约2万元[2]。具体人数资料中没有提及。", PASSAGES)
    assert not result.declined and result.claims == 1
    assert result.text == "每户年均增收约2万元[2]。具体人数资料中没有提及。"
    assert result.cited == [2]
