"""Hybrid search over the store: dense (FAISS) and lexical (FTS5 BM25) candidates, fused with RRF.

Composable: `candidates()` returns each retriever's ranked (rowid, score) list and `fuse()` accepts any
number of such lists, so another retriever (the knowledge graph in `rag.retriever`) can add its own list
before fusion. Access control is applied by the store inside each retriever.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from indexing.embedder import Embedder
from indexing.fusion import DEFAULT_RRF_K, reciprocal_rank_fusion
from indexing.store import IndexStore
from indexing.types import SearchHit

Ranked = Sequence[tuple[int, float]]  # (chunk rowid, retriever score), best first

MODES = ("dense", "bm25", "hybrid")


class HybridSearcher:
    """Dense, BM25 or fused (hybrid) search.

    Args:
        store: The index store.
        embedder: Embeds the query (the same model that embedded the chunks).
        rrf_k: Reciprocal rank fusion constant.
        weights: Per-retriever fusion weights, e.g. {"dense": 1.0, "bm25": 1.0}; missing names weigh 1.
        candidate_pool: Candidates each retriever contributes before fusion (at least k).
    """

    def __init__(self, store: IndexStore, embedder: Embedder, rrf_k: int = DEFAULT_RRF_K,
                 weights: Mapping[str, float] | None = None, candidate_pool: int = 50) -> None:
        self.store = store
        self.embedder = embedder
        self.rrf_k = rrf_k
        self.weights = dict(weights or {})
        self.candidate_pool = candidate_pool

    def search(self, query: str, k: int, groups: Iterable[str] | None = None,
               mode: str = "hybrid") -> list[SearchHit]:
        """The k best chunks for `query` that `groups` may read (groups=None: no filter).

        Args:
            query: Free text.
            k: Number of hits.
            groups: The reader's groups; None means unrestricted (admin, CLI).
            mode: "dense", "bm25" or "hybrid".

        Returns:
            Hits best first; `score` is the cosine (dense), the BM25 score (bm25) or the RRF score (hybrid),
            and `retrievers` maps each retriever that found the chunk to its rank there.
        """
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; use one of: {', '.join(MODES)}")
        groups = None if groups is None else tuple(groups)
        retrievers = ("dense", "bm25") if mode == "hybrid" else (mode,)
        found = self.candidates(query, groups, max(k, self.candidate_pool) if mode == "hybrid" else k, retrievers)
        if mode == "hybrid":
            return self.fuse(found, k)
        return self.hits_for(mode, found[mode])

    def candidates(self, query: str, groups: Iterable[str] | None, pool: int,
                   retrievers: Sequence[str] = ("dense", "bm25"),
                   vector: np.ndarray | None = None) -> dict[str, list[tuple[int, float]]]:
        """Each retriever's ranked (rowid, score) candidates, at most `pool` each.

        `vector` is the query's embedding when the caller already has it (otherwise it is computed).
        """
        out: dict[str, list[tuple[int, float]]] = {}
        if "dense" in retrievers:
            if vector is None:
                vector = self.embedder.embed([query])[0]
            out["dense"] = self.store.dense_search(vector, pool, groups)
        if "bm25" in retrievers:
            out["bm25"] = self.store.lexical_search(query, pool, groups)
        return out

    def fuse(self, ranked: Mapping[str, Ranked], k: int) -> list[SearchHit]:
        """Fuse any number of ranked candidate lists with weighted RRF and load the top k as hits."""
        fused = reciprocal_rank_fusion({name: [rowid for rowid, _ in hits] for name, hits in ranked.items()},
                                       k=self.rrf_k, weights=self.weights, limit=k)
        found = self.store.chunk_map([entry.id for entry in fused])
        out = []
        for entry in fused:
            hit = found.get(entry.id)
            if hit is not None:  # a chunk deleted since the candidates were found is skipped
                hit.score, hit.retrievers = entry.score, dict(entry.ranks)
                out.append(hit)
        return out

    def hits_for(self, name: str, ranked: Ranked) -> list[SearchHit]:
        """One retriever's ranked (rowid, score) list as hits, keeping its scores; `retrievers` = {name: rank}."""
        found = self.store.chunk_map([rowid for rowid, _ in ranked])
        out = []
        for rank, (rowid, score) in enumerate(ranked, start=1):
            hit = found.get(rowid)
            if hit is not None:
                hit.score, hit.retrievers = score, {name: rank}
                out.append(hit)
        return out

