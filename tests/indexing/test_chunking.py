"""Chunking: sizes, overlap, sections never merged, long paragraphs split by sentences, stable ids."""
from __future__ import annotations

import pytest

from indexing.chunking import chunk_document, chunk_texts, embedding_text, make_chunk_id
from indexing.types import Chunk, LoadedDocument, Section


def words(text: str) -> int:
    return len(text.split())


def sentence(tag: str, n: int) -> str:
    """A sentence of n words, capitalised, ending with a period: 'S1w0 s1w1 ... s1wN.'"""
    body = " ".join(f"{tag}w{i}" for i in range(n))
    return body[0].upper() + body[1:] + "."


def paragraph(tag: str, sentences: int, length: int) -> str:
    return " ".join(sentence(f"{tag}s{i}", length) for i in range(sentences))


def doc(*sections: Section, title: str = "Title") -> LoadedDocument:
    return LoadedDocument(source="x.md", title=title, format="md", sections=tuple(sections))


SIZES = [
    # (paragraphs as (sentences, words each), max_tokens, overlap, expected chunk word counts)
    ([(1, 10)], 50, 10, [10]),                       # one short paragraph: one chunk
    ([(1, 10), (1, 10), (1, 10)], 50, 10, [30]),     # paragraphs packed together while they fit
    ([(2, 10), (2, 10), (2, 10)], 45, 0, [40, 20]),  # no overlap: whole paragraphs, next starts fresh
    ([(2, 10), (2, 10), (2, 10)], 45, 10, [40, 30]),  # overlap: last sentence (10) repeated
    ([(10, 10)], 50, 20, [50, 50, 40]),              # a long paragraph split by sentences, 20 overlap
    ([(1, 120)], 50, 0, [50, 50, 20]),               # one huge sentence split by words
]


@pytest.mark.parametrize("paras, max_tokens, overlap, expected", SIZES)
def test_when_chunking_then_sizes_follow_paragraphs_sentences_and_overlap(paras, max_tokens, overlap,
                                                                          expected) -> None:
    text = "\n\n".join(paragraph(f"p{i}", n, length) for i, (n, length) in enumerate(paras))
    chunks = chunk_texts(text, words, max_tokens, overlap)
    assert [words(c) for c in chunks] == expected
    assert all(words(c) <= max_tokens for c in chunks)


@pytest.mark.parametrize("max_tokens, overlap", [(30, 0), (30, 5), (30, 12), (64, 16), (17, 9)])
def test_when_overlapping_then_every_word_is_kept_in_order_and_overlap_is_bounded(max_tokens, overlap) -> None:
    text = "\n\n".join(paragraph(f"p{i}", 3 + i % 4, 4 + i % 7) for i in range(12))
    chunks = chunk_texts(text, words, max_tokens, overlap)
    original = text.split()
    rebuilt: list[str] = []
    for chunk in chunks:
        tokens = chunk.split()
        assert len(tokens) <= max_tokens
        shared = _overlap(rebuilt, tokens)
        assert shared <= overlap
        rebuilt += tokens[shared:]
    assert rebuilt == original


def _overlap(previous: list[str], tokens: list[str]) -> int:
    for size in range(min(len(previous), len(tokens)), 0, -1):
        if previous[-size:] == tokens[:size]:
            return size
    return 0


def test_when_document_has_sections_then_text_never_crosses_them_and_headings_and_pages_kept() -> None:
    document = doc(Section("Intro text.", None, 1), Section(paragraph("a", 6, 10), "Refunds", 1),
                   Section("Tail text.", "Contact", 2))
    chunks = chunk_document("doc1", document, words, max_tokens=25, overlap_tokens=5)
    assert [c.heading for c in chunks] == [None, "Refunds", "Refunds", "Refunds", "Contact"]
    assert [c.page for c in chunks] == [1, 1, 1, 1, 2]
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert chunks[0].text == "Intro text." and chunks[-1].text == "Tail text."
    assert all(c.doc_id == "doc1" and c.token_count == words(c.text) for c in chunks)


def test_when_text_is_inserted_above_then_unchanged_chunks_keep_their_ids() -> None:
    before = doc(Section("First paragraph.", "A"), Section("Second paragraph.", "B"))
    after = doc(Section("New opening.", "Z"), Section("First paragraph.", "A"), Section("Second paragraph.", "B"))
    ids_before = [c.chunk_id for c in chunk_document("d", before, words)]
    ids_after = [c.chunk_id for c in chunk_document("d", after, words)]
    assert ids_after[1:] == ids_before
    assert all(len(i) == 20 and int(i, 16) >= 0 for i in ids_after)


@pytest.mark.parametrize("change", ["doc_id", "heading", "text"])
def test_when_doc_heading_or_text_differs_then_chunk_id_differs(change) -> None:
    base = {"doc_id": "d", "heading": "H", "text": "Same text."}
    other = dict(base, **{change: base[change] + "x"})
    assert make_chunk_id(**base) != make_chunk_id(**other)
    assert make_chunk_id(**base) == make_chunk_id(**dict(base))


def test_when_identical_chunks_repeat_in_a_document_then_ids_are_still_unique() -> None:
    document = doc(Section("Boilerplate footer.", "S"), Section("Boilerplate footer.", "S"))
    chunks = chunk_document("d", document, words)
    assert len({c.chunk_id for c in chunks}) == 2


@pytest.mark.parametrize("max_tokens, overlap", [(0, 0), (10, 10), (10, -1)])
def test_when_sizes_are_invalid_then_value_error(max_tokens, overlap) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_document("d", doc(Section("x")), words, max_tokens, overlap)


@pytest.mark.parametrize("title, heading, expected", [
    ("Policy", "Refunds", "Policy > Refunds\nBody."),
    ("Policy", None, "Policy\nBody."),
    ("Policy", "Policy", "Policy\nBody."),
    ("", None, "Body."),
])
def test_embedding_text_prefixes_title_and_heading(title, heading, expected) -> None:
    chunk = Chunk(chunk_id="c", doc_id="d", position=0, text="Body.", heading=heading)
    assert embedding_text(chunk, title) == expected
