"""Passages cut to fit a prompt budget: the sentences that bear on the question, with
their neighbours, instead of whole passages.

On a 2-core CPU a small model spends most of an answer reading the prompt (five
200-character passages took ~15 s), so the prompt holds the best-ranked sentences (the
extractive ranking) and the sentence either side of each, in passage order, until the
budget is spent. Passages keep their numbers; one with nothing chosen is left out.
"""

from __future__ import annotations

import re

from rag.answering.extractive import Candidate
from rag.chunking import sentence_spans
from rag.schemas import Hit

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_WORD = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")
GAP = "……"  # between sentences of a passage that are not next to each other
FRAME_TOKENS = 12  # "[n]", 《》, " · ", the <<< >>> fences, besides title and section


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: one token per CJK character or punctuation mark, one
    per Latin word or number. Qwen2.5's tokenizer gives somewhat fewer for Chinese, so
    the estimate errs on the side of a shorter prompt."""
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub(" ", text)
    return cjk + len(_WORD.findall(rest))


def _sentences(hit: Hit) -> list[tuple[int, str]]:
    """(document offset, text) of every sentence of the passage."""
    return [(hit.start + s, hit.text[s:e]) for s, e in sentence_spans(hit.text, 0, len(hit.text))]


def excerpt_passages(
    hits: list[Hit], ranked: list[Candidate], budget: int
) -> list[tuple[int, Hit]]:
    """(number, passage) pairs whose texts fit in about `budget` tokens together.

    `ranked` are the passages' sentences, best first. A budget of 0 keeps every passage
    whole. The best sentence is always kept, whatever it costs.
    """
    if budget <= 0 or not ranked:
        return list(enumerate(hits, start=1))
    sentences = [_sentences(hit) for hit in hits]
    frames = [estimate_tokens(f"{h.title} {h.section}") + FRAME_TOKENS for h in hits]
    chosen: list[set[int]] = [set() for _ in hits]
    seen: set[tuple[str, int]] = set()  # overlapping chunks repeat sentences
    spent = 0
    for candidate in ranked:
        n = candidate.n - 1
        index = next(
            (i for i, (start, _) in enumerate(sentences[n]) if start == candidate.start), None
        )
        if index is None or (candidate.doc_id, candidate.start) in seen:
            continue
        wanted = [i for i in (index, index - 1, index + 1) if 0 <= i < len(sentences[n])]
        for i in wanted:
            key = (hits[n].doc_id, sentences[n][i][0])
            if i in chosen[n] or key in seen:
                continue
            cost = estimate_tokens(sentences[n][i][1]) + (0 if chosen[n] else frames[n])
            if chosen[n] and not {i - 1, i + 1} & chosen[n]:
                cost += estimate_tokens(GAP)  # rendered between it and its passage's others
            if spent and spent + cost > budget:
                if i == index:
                    break  # the sentence itself does not fit: neither do its neighbours
                continue
            chosen[n].add(i)
            seen.add(key)
            spent += cost
        if spent >= budget:
            break
    excerpts = []
    for n, (hit, picked) in enumerate(zip(hits, chosen, strict=True), start=1):
        if picked:
            excerpts.append((n, hit.model_copy(update={"text": _render(sentences[n - 1], picked)})))
    return excerpts


def _render(sentences: list[tuple[int, str]], picked: set[int]) -> str:
    text, last = "", None
    for i in sorted(picked):
        if last is not None and i != last + 1:
            text += GAP
        text += sentences[i][1].strip()
        last = i
    return text
