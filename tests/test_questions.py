"""The evaluation question set is well-formed and its evidence is really in the corpus."""

from __future__ import annotations

from collections import Counter

from rag.evaluation import load_questions, squash
from tests.conftest import QUESTIONS


def test_question_set_shape():
    questions = load_questions(QUESTIONS)
    types = Counter(q.type for q in questions)
    assert len(questions) >= 300
    assert types["unanswerable"] >= 70
    assert set(types) == {
        "fact",
        "number",
        "entity",
        "why_how",
        "multipart",
        "multi",
        "unanswerable",
    }
    assert len({q.id for q in questions}) == len(questions)
    english = [q for q in questions if q.lang == "en"]
    assert len(english) >= 40
    assert all(q.question[:1].isascii() for q in english)


def test_the_split_is_stratified_and_keeps_tuned_questions_out_of_test():
    questions = [q for q in load_questions(QUESTIONS) if q.split != "holdout"]
    test = [q for q in questions if q.split == "test"]
    assert len(test) >= 0.4 * len(questions)
    # The seed questions reuse the articles' wording and were tuned on: never in test.
    assert all(q.origin == "reader" for q in test)
    readers = [q for q in questions if q.origin == "reader"]
    for kind in {q.type for q in readers}:
        of_type = [q for q in readers if q.type == kind]
        share = sum(q.split == "test" for q in of_type) / len(of_type)
        assert 0.4 <= share <= 0.6, (kind, share)
    assert sum(q.lang == "en" for q in test) >= 15


def test_every_evidence_quote_is_in_the_corpus(seed_documents):
    corpus = {d.doc_id: squash(d.text) for d in seed_documents}
    sources = {d.doc_id: d.source for d in seed_documents}
    for question in load_questions(QUESTIONS):
        for quote in question.evidence:
            holders = [i for i, text in corpus.items() if squash(quote) in text]
            assert holders, f"{question.id}: evidence not in corpus: {quote}"
            assert {sources[i] for i in holders} & set(question.sources), question.id
        if question.type == "unanswerable":
            assert not question.evidence and not question.key_facts
        else:
            assert question.evidence and question.key_facts, question.id


def test_multi_questions_need_two_articles(seed_documents):
    for question in load_questions(QUESTIONS):
        if question.type != "multi":
            continue
        articles = {
            d.doc_id
            for d in seed_documents
            for q in question.evidence
            if squash(q) in squash(d.text)
        }
        assert len(articles) >= 2, question.id


def test_the_holdout_is_a_reader_set_of_every_type():
    holdout = [q for q in load_questions(QUESTIONS) if q.split == "holdout"]
    assert len(holdout) >= 100
    assert all(q.origin == "reader" for q in holdout)
    types = Counter(q.type for q in holdout)
    assert len(types) == 7 and min(types.values()) >= 10, types
    assert sum(q.lang == "en" for q in holdout) >= 20
