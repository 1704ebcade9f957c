"""What kind of answer an ask wants (a figure, a sum of money, a date, a person) and whether
a sentence holds one that the question does not already state.

Near-miss questions name a real place and topic and ask for a detail the reports do not
give: "那361套干部周转房一共花了多少钱?" retrieves the sentence about the 361 flats, which
holds figures, but none in 元 and none the question did not already say. Whether the best
evidence fills the ask's slot is a measured feature of the abstention model, and a
sentence that fills it scores higher in the extractive answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.answering.asks import INTERROGATIVE, split_asks

_NUMBER = re.compile(
    r"多少|(?<![哪这那])几|数量|比例|多大|多高|"
    r"how many|how much|what share|what percentage|how large",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"多少钱|资金|投资|投入|金额|花费|费用|收入|报酬|工资|薪|销售额|产值|营收|资本|补贴|"
    r"\bcost|\bearn|revenue|invest|\bfund|spend|spent|income|salary|\bpay|output value|capital",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"哪一年|哪年|何年|何时|什么时候|哪一月|几月|哪天|哪一天|日期|"
    r"\bwhen\b|what year|which year|what date",
    re.IGNORECASE,
)
_PERSON = re.compile(
    r"谁|哪位|姓名|名字|(?:书记|支书|主任|长|负责人|带头人|老人|人)叫什么|\bwho\b|\bwhose\b",
    re.IGNORECASE,
)
# A figure: "3.5万名", "2000多户", "81.93万元", "80%".
_FIGURE = re.compile(r"\d[\d.,]*\s*(?:余|多)?\s*(?:万|亿)?\s*\S?")
_MONEY_FIGURE = re.compile(r"\d[\d.,]*\s*(?:余|多)?\s*(?:万|亿)?\s*元")
_DATE_FIGURE = re.compile(r"\d{1,4}\s*[年月日]")
_YEAR_ASK = re.compile(r"哪一?年|何年|what year|which year|in what year", re.IGNORECASE)
_YEAR_FIGURE = re.compile(r"\d{2,4}\s*年")
# "五个", "两支", "一个星期": counts written out.
_CHINESE_FIGURE = re.compile(
    r"[一二两三四五六七八九十百千]+\s*(?:余|多)?\s*[个名人位项家次条所支座处种户批件倍周天年]"
)
_DIGITS = re.compile(r"\d[\d.,]*|[一二两三四五六七八九十百千]+")
# "多少名", "几个", "多少亿元": the unit the answer's figure must carry.
UNIT = re.compile(
    r"(?:多少|几)(亿元|万元|万人|万户|平方米|公里|[名人位个户家把项次场亩元所座条支件处辆台])"
)
_PERSON_UNITS = "名人位"


def figure_with_unit(unit: str) -> re.Pattern[str]:
    """A number carrying `unit` ("3.5万名", "2000多户"); 名/人/位 count people alike."""
    pattern = f"[{_PERSON_UNITS}]" if unit in _PERSON_UNITS else re.escape(unit)
    return re.compile(rf"\d[\d.,]*\s*(?:余|多)?\s*(?:万|亿)?\s*{pattern}")


@dataclass(frozen=True)
class Slot:
    """The answer one ask wants; `kind` is "money", "date", "number", "person" or ""."""

    ask: str
    kind: str


def slot_of(ask: str) -> Slot:
    if _DATE.search(ask):
        return Slot(ask, "date")
    if _NUMBER.search(ask):
        unit = UNIT.search(ask)
        kind = (
            "money" if _MONEY.search(ask) or (unit and unit.group(1).endswith("元")) else "number"
        )
        return Slot(ask, kind)
    if _PERSON.search(ask):
        return Slot(ask, "person")
    return Slot(ask, "")


_CLAUSE = re.compile(r"[,\uff0c;\uff1b]")  # ASCII or full-width , ;


def asked_clauses(question: str) -> list[str]:
    """Each ask's clause holding its question word ("到现在一共培训了多少人次"): the
    detail a near-miss asks for sits there, beside words the evidence shares."""
    clauses = []
    for ask in split_asks(question):
        parts = [p for p in _CLAUSE.split(ask) if p.strip()] or [ask]
        clauses.append(next((p for p in parts if INTERROGATIVE.search(p)), parts[-1]))
    return clauses


def slots(question: str) -> list[Slot]:
    """One slot per ask, in the question's order."""
    return [slot_of(ask) for ask in split_asks(question)]


def _new_figures(pattern: re.Pattern[str], sentence: str, question: str) -> bool:
    """A figure of `pattern` in the sentence whose digits the question does not state."""
    stated = set(_DIGITS.findall(question))
    return any(not set(_DIGITS.findall(m.group(0))) <= stated for m in pattern.finditer(sentence))


def fills(
    slot: Slot,
    sentence: str,
    question: str,
    people: Callable[[str], list[str]],
) -> bool:
    """Whether `sentence` holds an answer of the slot's kind that `question` lacks.

    `people` names the persons and bodies in a text (a POS tagger's; called for person slots only).
    A slot of no particular kind is always filled.
    """
    if slot.kind == "money":
        return _new_figures(_MONEY_FIGURE, sentence, question)
    if slot.kind == "date":
        # "哪一年" is not answered by "3月8日".
        pattern = _YEAR_FIGURE if _YEAR_ASK.search(slot.ask) else _DATE_FIGURE
        return _new_figures(pattern, sentence, question)
    if slot.kind == "number":
        # Any unit: "多少项业务" is answered by "1313个事项".
        return _new_figures(_FIGURE, sentence, question) or _new_figures(
            _CHINESE_FIGURE, sentence, question
        )
    if slot.kind == "person":
        return any(name not in question for name in people(sentence))
    return True
