"""Chunking: a pure function from a loaded document to token-bounded, overlapping chunks.

Rules:
- Text never crosses a section (heading or page) boundary: each section is chunked on its own, and the
  chunk keeps the section's heading and page.
- Paragraphs are packed whole while they fit `max_tokens`; a longer paragraph is split by lines, then by
  sentences, and a sentence longer than `max_tokens` by words.
- Consecutive chunks of one section share up to `overlap_tokens` tokens: the last sentences (or words) of
  the previous chunk start the next one.
- Tokens are counted with an injected `count_tokens` (the embedder's tokenizer in production, so 200 tokens
  means 200 wordpieces; a word counter in unit tests). Counts of pieces are summed, which is exact for
  whitespace/punctuation pre-tokenizers such as BERT's wordpiece.
- `chunk_id` = sha256(doc id, heading, text)[:20]: it depends on content, not position, so an unchanged
  paragraph keeps its id when text is inserted above it. Identical chunks in one document get an occurrence
  number in the hash.

Decision on what is embedded: `Chunk.text` stays the document's own text (what is shown and cited), while
the dense index embeds `embedding_text(chunk, title)` = "title > heading" on a first line followed by the
text. The prefix costs ~5-15 tokens, so chunks of 200 tokens stay below the 256-wordpiece window of
all-MiniLM-L6-v2, and it lets a chunk deep in a section match questions that name the topic only in its
heading. The lexical index gets the title and heading as separate columns instead.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from indexing.types import Chunk, LoadedDocument

TokenCounter = Callable[[str], int]

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class _Piece:
    text: str
    tokens: int
    joiner: str  # put before this piece when it follows another one in a chunk


def chunk_document(doc_id: str, document: LoadedDocument, count_tokens: TokenCounter,
                   max_tokens: int = 200, overlap_tokens: int = 40) -> list[Chunk]:
    """Split a document into chunks of at most `max_tokens` tokens with `overlap_tokens` of overlap.

    Args:
        doc_id: The document's id; part of every chunk id.
        document: The loaded document.
        count_tokens: Counts the tokens of a text.
        max_tokens: Upper bound on the tokens of a chunk (a single word longer than that is kept whole).
        overlap_tokens: Tokens the next chunk of the same section repeats from the previous one.

    Returns:
        The chunks in document order, positions 0..n-1.

    Raises:
        ValueError: `max_tokens` < 1 or `overlap_tokens` not in [0, max_tokens).
    """
    if max_tokens < 1 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError(f"need max_tokens >= 1 and 0 <= overlap_tokens < max_tokens, "
                         f"got {max_tokens} and {overlap_tokens}")
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for section in document.sections:
        for text in chunk_texts(section.text, count_tokens, max_tokens, overlap_tokens):
            chunk_id = make_chunk_id(doc_id, section.heading, text, seen)
            chunks.append(Chunk(chunk_id=chunk_id, doc_id=doc_id, position=len(chunks), text=text,
                                heading=section.heading, page=section.page, token_count=count_tokens(text)))
    return chunks


def chunk_texts(text: str, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int) -> list[str]:
    """Chunk the text of one section (see the module rules); returns the chunk texts in order."""
    pieces = list(_pieces(text, count_tokens, max_tokens))
    out: list[str] = []
    current: list[_Piece] = []
    fresh = False  # does `current` hold anything not already emitted?
    for piece in pieces:
        if current and sum(p.tokens for p in current) + piece.tokens > max_tokens:
            if fresh:
                out.append(_join(current))
            current = _fit(_tail(current, overlap_tokens, count_tokens), piece.tokens, max_tokens)
        current.append(piece)
        fresh = True
    if current and fresh:
        out.append(_join(current))
    return out


def make_chunk_id(doc_id: str, heading: str | None, text: str, seen: dict[str, int] | None = None) -> str:
    """Stable chunk id: 20 hex chars of sha256 over doc id, heading and text (+ occurrence if repeated)."""
    key = f"{doc_id}\x1f{heading or ''}\x1f{text}"
    if seen is not None:
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        if occurrence:
            key += f"\x1f#{occurrence}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def embedding_text(chunk: Chunk, title: str) -> str:
    """The text the dense index embeds for a chunk: "title > heading" on a first line, then the chunk text."""
    parts = [title] if title else []
    if chunk.heading and chunk.heading != title:
        parts.append(chunk.heading)
    context = " > ".join(parts)
    return f"{context}\n{chunk.text}" if context else chunk.text


def _pieces(text: str, count_tokens: TokenCounter, max_tokens: int) -> Iterable[_Piece]:
    """Paragraphs that fit, else their lines, sentences or word windows; joiners keep the layout."""
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        tokens = count_tokens(paragraph)
        if tokens <= max_tokens:
            yield _Piece(paragraph, tokens, "\n\n")
            continue
        first = True
        for line in paragraph.split("\n"):
            for piece in _split_line(line, count_tokens, max_tokens):
                joiner = "\n\n" if first else ("\n" if piece.joiner == "\n" else " ")
                yield _Piece(piece.text, piece.tokens, joiner)
                first = False


def _split_line(line: str, count_tokens: TokenCounter, max_tokens: int) -> Iterable[_Piece]:
    new_line = True
    for sentence in _SENTENCE_END.split(line.strip()):
        if not sentence.strip():
            continue
        tokens = count_tokens(sentence)
        if tokens <= max_tokens:
            yield _Piece(sentence, tokens, "\n" if new_line else " ")
        else:
            for i, window in enumerate(_word_windows(sentence, count_tokens, max_tokens)):
                yield _Piece(window.text, window.tokens, "\n" if new_line and i == 0 else " ")
        new_line = False


def _word_windows(sentence: str, count_tokens: TokenCounter, max_tokens: int) -> Iterable[_Piece]:
    words: list[str] = []
    total = 0
    for word in sentence.split():
        tokens = count_tokens(word)
        if words and total + tokens > max_tokens:
            yield _Piece(" ".join(words), total, " ")
            words, total = [], 0
        words.append(word)
        total += tokens
    if words:
        yield _Piece(" ".join(words), total, " ")


def _tail(pieces: list[_Piece], budget: int, count_tokens: TokenCounter) -> list[_Piece]:
    """The trailing pieces of a chunk that fit in `budget` tokens, splitting the last one finer if needed."""
    tail: list[_Piece] = []
    for piece in reversed(pieces):
        if piece.tokens <= budget:
            tail.insert(0, piece)
            budget -= piece.tokens
            continue
        finer = _finer(piece, count_tokens)
        if finer is not None:
            tail[:0] = _tail(finer, budget, count_tokens)
        break
    return tail


def _finer(piece: _Piece, count_tokens: TokenCounter) -> list[_Piece] | None:
    sentences = [s for s in _SENTENCE_END.split(piece.text.replace("\n", " ")) if s.strip()]
    if len(sentences) > 1:
        return [_Piece(s, count_tokens(s), " ") for s in sentences]
    words = piece.text.split()
    if len(words) > 1:
        return [_Piece(w, count_tokens(w), " ") for w in words]
    return None


def _fit(tail: list[_Piece], incoming: int, max_tokens: int) -> list[_Piece]:
    while tail and sum(p.tokens for p in tail) + incoming > max_tokens:
        tail = tail[1:]
    return tail


def _join(pieces: list[_Piece]) -> str:
    return pieces[0].text + "".join(p.joiner + p.text for p in pieces[1:])


__all__ = ["chunk_document", "chunk_texts", "make_chunk_id", "embedding_text", "TokenCounter"]
