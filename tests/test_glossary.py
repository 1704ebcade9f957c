"""English questions' phrases in the corpus's own words (CC-CEDICT read backwards)."""

from __future__ import annotations

from rag.glossary import Glossary
from rag.services import Services

VOCABULARY = ["党员", "村干部", "干部", "村", "集体经济", "工作", "作品", "劳动", "浏阳", "民宿"]
FREQUENCY = {"党员": 50, "干部": 30, "村": 80}


def _glossary() -> Glossary:
    return Glossary(lambda: VOCABULARY, lambda word: FREQUENCY.get(word, 1))


def test_phrases_become_the_corpus_words_they_gloss() -> None:
    words = _glossary().words(
        "How many village cadres and Party members does the collective economy pay?"
    )
    assert "党员" in words
    assert "集体经济" in words
    assert "村干部" in words or "干部" in words


def test_plurals_match_singular_glosses_and_function_words_match_nothing() -> None:
    glossary = _glossary()
    assert "民宿" in glossary.words("Which villages run homestays?")
    assert glossary.words("What is it and how many are there?") == []


def test_words_glossing_no_corpus_word_are_unglossed_and_names_are_not() -> None:
    glossary = _glossary()
    assert glossary.unglossed("What is the capital of France?") == ["capital", "france"]
    assert glossary.unglossed("How many Party members in Liuyang?", {"liuyang"}) == []
    # A word glossing too many corpus words ("work") is known, if vague: never unglossed.
    assert "work" not in glossary.unglossed("How does the work go?")


def test_the_retriever_searches_an_english_question_with_the_glossed_words(
    services: Services,
) -> None:
    retriever = services.retriever
    question = "How many Party members are there in Liuyang?"
    form = retriever.lexical_form(question)
    assert form.startswith(question)
    assert "浏阳" in form and "党员" in form
    # Capitalised words the reader also gave in characters are a name, not unknown words.
    assert retriever.unglossed("How many homestays does Longxing'ao (隆兴坳) village have?") == []
    assert retriever.unglossed("What is the capital of France?") == ["france"]
    # A Chinese question is searched as it is.
    assert retriever.lexical_form("浏阳有多少名党员?") == "浏阳有多少名党员?"


def test_a_word_the_tokenizer_cuts_otherwise_in_the_article_is_still_known(
    services: Services,
) -> None:
    """ "镇隆兴坳村" is cut 镇隆 + 兴坳 + 村 in the article, so 隆兴坳 is no index word."""
    scorer = services.answerer.scorer
    assert not scorer.known_word("隆兴坳") and scorer.known_name("隆兴坳")
    assert not scorer.known_name("长沙县") and not scorer.known_name("france")
