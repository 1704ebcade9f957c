"""Did a model find an answer in the passages, when no sentence it wrote passes the check?

A small model that finds nothing rarely says so. It restates the question around a
citation marker ("雷小青毕业于[1]。", "泰园社区一共住着[2]居民。"), or fills the asked
detail with a figure of its own ("…已经开工建设的有85个。" where the passages give none).
No sentence of either is supported, and quoting the passages instead would answer a
question the reports do not answer. A model that did find the answer but reworded it
states names, figures and phrases the passages hold.

So what the answer adds to the question (Chinese character pairs and numbers the question
does not have) is looked up in the passages: an answer that adds nothing, or of whose
additions no more than a third are there, found nothing. Only a Chinese answer is read: an
English one shares little but numbers with Chinese passages.

A figure is read more strictly. A model that found the asked figure copies the sentence
that holds it closely enough to pass the check; an unsupported Chinese answer that states
a figure the question does not has, on dev, put in the asked place a figure the passages
give for something else ("株洲市长热线2021年收到的物业管理投诉有5082件" where they give 5082
for 2020), or none of theirs: `adds_figure`.
"""

from __future__ import annotations

import re

from rag.answering.citations import GLUE, normalize_markers, plain_text

GROUNDED_SHARE = 1 / 3  # more than this share must be there (chosen on dev)

# Words about the passages, not from them ("根据资料[1],…").
_META = re.compile(r"根据|依据|资料|材料|报道|文中|提到|显示|中的信息")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_NOT_CONTENT = re.compile(f"[^{_CJK}]+|[{''.join(sorted(GLUE))}]")
_LATIN = re.compile(r"[A-Za-z]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _plain(text: str) -> str:
    return plain_text(normalize_markers(text))


def _chinese(plain: str) -> bool:
    """Written mainly in Chinese: more Chinese characters than Latin letters."""
    chinese = sum(len(run) for run in _CJK_RUN.findall(plain))
    return bool(chinese) and chinese >= len(_LATIN.findall(plain))


def _content(text: str) -> set[str]:
    """Chinese character pairs and numbers of a `_plain` text: what a claim is made of.
    Runs are cut at glue characters ("的", "和"), which claim nothing and vary with the
    wording."""
    runs = _NOT_CONTENT.split(_META.sub(" ", text))
    pairs = {run[i : i + 2] for run in runs for i in range(len(run) - 1)}
    return pairs | set(_NUMBER.findall(text))


def found_answer(answer: str, question: str, passages: list[str]) -> bool | None:
    """Whether `answer` states something from `passages` beyond `question`; None when
    it is not written mainly in Chinese (nothing to tell by).

    `question` should carry the Chinese words an English question spells or glosses.
    """
    plain = _plain(answer)
    if not _chinese(plain):
        return None
    added = _content(plain) - _content(_plain(question))
    if not added:
        return False
    held = _content(_plain("\n".join(passages)))
    return len(added & held) / len(added) > GROUNDED_SHARE


def adds_figure(answer: str, question: str) -> bool | None:
    """Whether `answer` states a number `question` does not; None when it is not written
    mainly in Chinese (an English answer never passes the check word for word, so failing
    it says nothing)."""
    plain = _plain(answer)
    if not _chinese(plain):
        return None
    asked = set(_NUMBER.findall(_plain(question)))
    return any(number not in asked for number in _NUMBER.findall(plain))
