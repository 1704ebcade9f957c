"""The passages a question is answered from: the retriever's top k, except for questions
that compare places or look across reports, which would otherwise get five passages of
whichever article matches best and leave the other place unanswered.
"""

from __future__ import annotations

from rag.answering.evidence import EvidenceScorer, about_one, is_comparative
from rag.query import Filters
from rag.retrieval import Retriever
from rag.schemas import Hit


def question_passages(
    retriever: Retriever,
    scorer: EvidenceScorer,
    question: str,
    k: int,
    filters: Filters | None,
    max_places: int,
) -> list[Hit]:
    """Top-k passages; "涪口区和北塔区分别…" gets the best passages of each place in turn
    (one search per place, at most `max_places`), "哪几篇报道…" at most two per article."""
    comparative = is_comparative(question)
    places = scorer.places(question)[:max_places] if comparative else []
    if len(places) < 2:
        cap = 2 if comparative else 0
        return retriever.search(question, k=k, filters=filters, per_document=cap)
    per_place = []
    for place in places:
        focused = about_one(question, places, place)
        about = _about(scorer, place, filters)
        if about is not filters:  # among its own articles, its name tells nothing
            focused = focused.replace(place, "")
        per_place.append(retriever.search(focused, k=k, filters=about))
    merged: dict[str, Hit] = {}
    for rank in range(k):
        for hits in per_place:
            if rank < len(hits):
                merged.setdefault(hits[rank].chunk_id, hits[rank])
    return list(merged.values())[:k]


def _about(scorer: EvidenceScorer, place: str, filters: Filters | None) -> Filters | None:
    """`filters` narrowed to the articles naming `place`: the other place's topic words
    would outrank them ("涪口区…和醴陵科技专家服务团…" filled 涪口区's five with 醴陵's
    article). Unchanged when no article (of those the caller allows) names it."""
    articles = scorer.documents_naming(place)
    if filters is not None and filters.doc_id:
        articles = tuple(a for a in articles if a in filters.doc_id)
    if not articles:
        return filters
    return (filters or Filters()).model_copy(update={"doc_id": list(articles)})
