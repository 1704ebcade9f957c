"""English questions' pinyin names spelled back as the corpus writes them."""

from __future__ import annotations

from rag.transliteration import PinyinNames

VOCABULARY = ["浏阳", "刘阳", "涪口", "柏树", "桂阳", "张叶喜", "党员", "村"]
FREQUENCY = {"浏阳": 40, "刘阳": 1}


def _names() -> PinyinNames:
    return PinyinNames(lambda: VOCABULARY, lambda word: FREQUENCY.get(word, 1))


def test_capitalised_pinyin_words_become_the_corpus_words_they_spell() -> None:
    names = _names()
    question = "How many Party members did Liuyang recruit, and who is Zhang Yexi?"
    assert names.names(question) == ["浏阳", "张叶喜"]  # the more frequent 浏阳 over 刘阳


def test_a_name_with_a_common_word_is_matched_by_the_name_alone() -> None:
    assert _names().names("Baishu Village in Guiyang and Fukou District") == [
        "柏树",
        "桂阳",
        "涪口",
    ]


def test_english_words_and_chinese_text_spell_no_name() -> None:
    names = _names()
    assert names.names("涪口区有多少名党员?") == []
    assert names.names("What Party members Village") == []
