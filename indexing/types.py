"""Plain value types shared by the indexing package and its callers."""
from __future__ import annotations

from dataclasses import dataclass, field

from indexing.levels import Level

Classification = Level  # the stored label of documents and chunks; `routing.levels.Level` is the same class


@dataclass(frozen=True)
class Section:
    """A piece of a loaded document: text under one heading (and page, where the format has pages)."""

    text: str
    heading: str | None = None
    page: int | None = None


@dataclass(frozen=True)
class LoadedDocument:
    """What a loader returns: the document's title and its text split by structure."""

    source: str
    title: str
    format: str
    sections: tuple[Section, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document. `chunk_id` is stable: derived from doc id and content."""

    chunk_id: str
    doc_id: str
    position: int
    text: str
    heading: str | None = None
    page: int | None = None
    token_count: int = 0


@dataclass(frozen=True)
class DocumentRecord:
    """A stored document as the store reports it."""

    doc_id: str
    source: str
    title: str
    format: str
    content_hash: str
    version: int
    groups: tuple[str, ...]
    declared: Classification
    label: Classification  # max(declared, detected over its chunks)
    chunk_count: int
    ingested_at: str


@dataclass(frozen=True)
class ChunkRef:
    """A stored chunk's identity and access facts, without its text: what a derived index (the graph) keys on.

    `rowid` is the chunk's integer id in the store (the FAISS id, and what `allowed_chunk_ids` returns).
    """

    rowid: int
    chunk_id: str
    doc_id: str
    source: str
    label: Classification


@dataclass
class SearchHit:
    """One retrieved chunk with its score and provenance.

    `retrievers` maps each retriever that found the chunk ("dense", "bm25", "graph") to its rank there (1-based).
    `graph_paths` lists, for graph hits, the entity paths that reached the chunk.
    """

    chunk_id: str
    doc_id: str
    source: str
    title: str
    text: str
    score: float
    label: Classification
    groups: tuple[str, ...]
    position: int = 0
    heading: str | None = None
    page: int | None = None
    retrievers: dict[str, int] = field(default_factory=dict)
    graph_paths: list[list[str]] = field(default_factory=list)
    findings: list[dict] | None = None  # stored findings summary of `passage_text(title, text)` (no text)
    label_stamp: str = ""  # detector version + config the stored label was made with ("" = unknown)


@dataclass(frozen=True)
class ChunkLabel:
    """What labelling one chunk produced at ingest: its level and a findings summary (never the text).

    `findings` holds dicts with entity_type, start, end, score, level (offsets into the passage text).
    """

    level: Classification
    findings: tuple[dict, ...] = ()


def passage_text(title: str, text: str) -> str:
    """A chunk as the prompt shows it (and as ingest labels it): "title: text"."""
    return f"{title}: {text}"
