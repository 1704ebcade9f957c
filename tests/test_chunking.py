"""Chunks are exact spans of their document, whole sentences, inside one section."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunking import ChunkingParams, chunk_document, chunk_documents, sentence_spans
from rag.schemas import Document, Section


def test_every_seed_chunk_is_an_exact_span(seed_documents, seed_bundle):
    by_id = {d.doc_id: d for d in seed_documents}
    assert seed_bundle.store.chunks
    for chunk in seed_bundle.store.chunks:
        assert by_id[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text


def test_chunks_stay_inside_a_section_and_carry_its_title(seed_documents):
    params = ChunkingParams(size=200, max_chars=400, overlap=1)
    for document in seed_documents:
        for chunk in chunk_document(document, params):
            section = document.section_at(chunk.start)
            assert section is not None and chunk.end <= section.end
            assert chunk.section == section.title
            assert chunk.title == document.title
            assert len(chunk.text) <= params.max_chars


def test_sentences_end_at_chinese_and_ascii_marks_with_closing_quotes():
    text = "他说:“要办实事。”随后开会;大家同意!真的吗?好……结束"
    spans = [text[s:e] for s, e in sentence_spans(text, 0, len(text))]
    assert spans == ["他说:“要办实事。”", "随后开会;", "大家同意!", "真的吗?", "好……", "结束"]


def test_neighbouring_chunks_overlap_by_one_sentence(seed_documents):
    chunks = chunk_documents(seed_documents[:1], ChunkingParams(size=120, overlap=1))
    pairs = [
        (a, b)
        for a, b in zip(chunks, chunks[1:], strict=False)
        if a.section == b.section and len(sentence_spans(a.text, 0, len(a.text))) > 1
    ]
    assert pairs
    # A window of several sentences hands its last sentence on to the next window.
    assert all(b.start < a.end and b.start > a.start for a, b in pairs)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.text(alphabet="基层治理党建。,！?;…“”\n abc123", min_size=1, max_size=120),
        min_size=1,
        max_size=6,
    ),
    st.integers(min_value=20, max_value=200),
)
def test_offsets_hold_for_any_text(paragraphs, size):
    text = "\n".join(paragraphs)
    document = Document(
        doc_id="d",
        source="s.txt",
        title="t",
        text=text,
        sections=[Section(title="", start=0, end=len(text))],
    )
    for chunk in chunk_document(document, ChunkingParams(size=size, max_chars=2 * size)):
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text
