"""A synthetic corpus for `rag bench query`: an index of N chunks with clustered vectors, texts, groups and graph.

Encoding 100k real chunks takes over half an hour on 2 cores, so the embeddings are synthetic: random
unit vectors around `N/100` random centres, with as much noise as signal (cosine ~0.5 within a cluster,
~0 across: a clustered space like real embeddings, which is what makes IVF recall meaningful). Texts are pseudo-words of a 20k vocabulary drawn with a Zipf law (so BM25 has common and rare terms),
each chunk mentions two entities of a pool (so the knowledge graph has bridges), and document i is readable
by group `g{i % 10}` only (a reader with one group sees 10% of the chunks). Written through the real store
(one transaction per document) and graph listener, so every query path is the production one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexing.faiss_index import DEFAULT_APPROX_THRESHOLD, DEFAULT_NPROBE
from indexing.store import IndexStore
from indexing.types import Chunk, Classification, DocumentRecord

CHUNKS_PER_DOC = 10
WORDS_PER_CHUNK = 80
GROUPS = 10
VOCABULARY = 20_000
_SYLLABLES = ("ka", "lo", "mi", "ren", "tor", "va", "shi", "pel", "dun", "qua", "bri", "zen", "mo", "rax", "til",
              "eno", "gar", "sul", "fio", "nek")


@dataclass
class SyntheticCorpus:
    """The built index and what queries need to be realistic."""

    store: IndexStore
    graph: object
    words: list[str]
    entities: list[str]
    centres: np.ndarray
    build_s: float


def pseudo_words(n: int, rng: np.random.Generator) -> list[str]:
    """`n` distinct pronounceable pseudo-words."""
    out: dict[str, None] = {}
    while len(out) < n:
        out.setdefault("".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 5)))))
    return list(out)


def clustered_vectors(n: int, dim: int, centres: np.ndarray, rng: np.random.Generator,
                      spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around random centres; returns (vectors, centre index of each)."""
    which = rng.integers(0, len(centres), size=n)
    vectors = centres[which] + spread * rng.standard_normal((n, dim)).astype(np.float32) / np.sqrt(dim)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), which


def build(index_dir: Path, n_chunks: int, dim: int, nlp: object = None, seed: int = 0,
          approx_threshold: int = DEFAULT_APPROX_THRESHOLD, nprobe: int = DEFAULT_NPROBE) -> SyntheticCorpus:
    """Write a synthetic corpus of `n_chunks` chunks into a new index at `index_dir` (with its graph)."""
    from knowledge_graph.extract import CO_OCCURS, Extraction, Mention, Relation
    from knowledge_graph.store import KnowledgeGraph, PreparedChunks

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    words = pseudo_words(VOCABULARY, rng)
    entities = [f"{w.title()} {v.title()}" for w, v in zip(pseudo_words(max(50, n_chunks // 20), rng),
                                                            pseudo_words(max(50, n_chunks // 20), rng))]
    zipf = 1.0 / np.arange(1, len(words) + 1)
    zipf /= zipf.sum()
    centres = rng.standard_normal((max(16, n_chunks // 100), dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors, _ = clustered_vectors(n_chunks, dim, centres, rng)
    store = IndexStore(index_dir, dim=dim, approx_threshold=approx_threshold, nprobe=nprobe)
    store.check_embedder("synthetic")
    graph = KnowledgeGraph(store, nlp=nlp)
    for d, start in enumerate(range(0, n_chunks, CHUNKS_PER_DOC)):
        doc_id = f"syn{d:07d}"
        count = min(CHUNKS_PER_DOC, n_chunks - start)
        topic = entities[int(rng.integers(len(entities)))]
        chunks, prepared = [], []
        for p in range(count):
            other = entities[int(rng.integers(len(entities)))]
            body = " ".join(rng.choice(words, size=WORDS_PER_CHUNK, p=zipf))
            text = f"{topic} works with {other}. {body}."
            chunk = Chunk(f"{doc_id}-{p:03d}", doc_id, p, text, None, None, WORDS_PER_CHUNK + 6)
            chunks.append(chunk)
            mentions = (Mention(topic.lower(), topic, "PERSON", "ner", 0, 0, 2),
                        Mention(other.lower(), other, "ORG", "ner", 0, 4, 6))
            relation = Relation(*sorted((topic.lower(), other.lower())), CO_OCCURS)
            prepared.append((chunk.chunk_id, doc_id, Extraction(mentions, (relation,) if topic != other else ())))
        record = DocumentRecord(doc_id, f"synthetic/{doc_id}.md", f"Document {d}", "md", doc_id, 0,
                                (f"g{d % GROUPS}",), Classification.INTERNAL, Classification.INTERNAL, 0, "")
        hook = _graph_hook(graph, PreparedChunks(tuple(prepared)))
        store.write_document(record, chunks, vectors[start:start + count], [Classification.INTERNAL] * count, [hook])
    store.persist()
    graph.commit()
    return SyntheticCorpus(store, graph, words, entities, centres, time.perf_counter() - started)


def _graph_hook(graph: object, prepared: object):
    return lambda conn, removed: graph.write(conn, prepared, removed)  # type: ignore[attr-defined]


def questions(corpus: SyntheticCorpus, n: int, seed: int = 1) -> list[str]:
    """Questions naming an entity and three content words of the corpus (frequency ranks 100-3000)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        entity = corpus.entities[int(rng.integers(len(corpus.entities)))]
        terms = " ".join(rng.choice(corpus.words[100:3000], size=3))
        out.append(f"What does {entity} say about {terms}?")
    return out
