"""The evaluation question set is well-formed and its evidence is really in the corpus."""

from __future__ import annotations

from collections import Counter

from rag.evaluation import load_questions, squash
from tests.conftest import QUESTIONS


def test_question_set_shape():
    questions = load_questions(QUESTIONS)
    types = Counter(q.type for q in questions)
    assert len(questions) >= 60
    assert types["unanswerable"] >= 10
    assert set(types) == {"fact", "number", "entity", "why_how", "multi", "unanswerable"}
    assert len({q.id for q in questions}) == len(questions)
    english = [q for q in questions if q.question[:1].isascii() and q.question[:1].isalpha()]
    assert len(english) >= 8


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
