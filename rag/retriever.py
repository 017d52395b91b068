"""The retriever: dense + BM25 + knowledge graph, fused with RRF, filtered by the caller's groups.

Mode "all" is hybrid search plus a graph *second hop*: the top hybrid hits are the first hop, the graph
proposes chunks of other documents linked to them by a shared entity (the bridge a multi-hop question
does not name; `KnowledgeGraph.bridge_search`), and the result keeps the first `protected_hits` hybrid
hits in place while the places after them go to the best of the rest by weighted RRF over dense, BM25 and
the graph's candidates. So the graph can lift a second-hop chunk into the top k but never push out the
best hybrid hits (RRF-fusing the query-entity walk instead cost 8 points of single-hop recall@5).

Access control happens inside every retriever (FAISS id selector, FTS5 join, graph chunk filter), so
`k` allowed results come back whenever `k` allowed chunks exist. Also offered as a langchain-core
`BaseRetriever` (`as_langchain`) for interop.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from indexing.search import HybridSearcher
from indexing.types import SearchHit

if TYPE_CHECKING:  # pragma: no cover
    from knowledge_graph.retrieve import GraphHit
    from knowledge_graph.store import KnowledgeGraph

MODES = ("dense", "bm25", "hybrid", "graph", "all")


class Retriever:
    """Search the index in one of `MODES` for a reader with `groups` (None: unrestricted).

    Args:
        searcher: dense, BM25 and hybrid search over the store; its fusion weights may name "graph" too.
        graph: the knowledge graph, or None ("graph" mode then fails, "all" means hybrid).
        candidate_pool: candidates each retriever contributes before fusion.
        protected_hits: in mode "all", the best hybrid hits that always keep their places; the graph's
            second-hop chunks contest the places after them. A fixed count (not relative to k), so the
            top 5 of a k=10 search are the k=5 result.
        first_hop: hybrid hits whose entities are the candidate bridges.
        bridge_candidates: second-hop chunks the graph contributes to the fusion.
    """

    def __init__(self, searcher: HybridSearcher, graph: "KnowledgeGraph | None" = None,
                 candidate_pool: int = 50, *, protected_hits: int = 3, first_hop: int = 3,
                 bridge_candidates: int = 2) -> None:
        self.searcher = searcher
        self.graph = graph
        self.candidate_pool = candidate_pool
        self.protected_hits = protected_hits
        self.first_hop = first_hop
        self.bridge_candidates = bridge_candidates

    def search(self, query: str, *, groups: Sequence[str] | None, k: int, mode: str = "all") -> list[SearchHit]:
        """The k best chunks for `query` readable by `groups`.

        Raises:
            ValueError: unknown mode or k < 1 (the message lists the modes).
        """
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; use one of: {', '.join(MODES)}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if mode in ("dense", "bm25", "hybrid"):
            return self.searcher.search(query, k, groups, mode)
        if self.graph is None:
            if mode == "graph":
                raise ValueError("no knowledge graph is configured; use dense, bm25 or hybrid")
            return self.searcher.search(query, k, groups, "hybrid")
        if mode == "graph":
            graph_hits = self.graph.search(query, groups=groups, k=max(k, self.candidate_pool))
            hits = self.searcher.hits_for("graph", self._ranked(graph_hits))[:k]
        else:
            hits, graph_hits = self._hybrid_with_bridges(query, groups, k)
        paths = {hit.chunk_id: hit.paths for hit in graph_hits}
        for hit in hits:
            hit.graph_paths = [list(path) for path in paths.get(hit.chunk_id, [])]
        return hits

    def _hybrid_with_bridges(self, query: str, groups: Sequence[str] | None,
                             k: int) -> tuple[list[SearchHit], list["GraphHit"]]:
        """Mode "all": hybrid hits, the first `protected_hits` kept, the rest contested with the graph's
        second-hop candidates by RRF (`score` is the fused RRF score; the order is this slot policy).
        The query is embedded once, for the candidates and the graph's bridge search."""
        vector = self.searcher.embedder.embed([query])[0]
        ranked = self.searcher.candidates(query, groups, max(k, self.candidate_pool), vector=vector)
        hybrid = self.searcher.fuse(ranked, max(k, self.first_hop))
        first_hop = [hit.chunk_id for hit in hybrid[:self.first_hop]]
        graph_hits = self.graph.bridge_search(query, groups=groups, first_hop=first_hop, query_vector=vector,
                                              k=self.bridge_candidates)
        ranked["graph"] = self._ranked(graph_hits)
        if not ranked["graph"]:
            return hybrid[:k], []
        fused = self.searcher.fuse(ranked, k + len(ranked["graph"]))
        kept = {hit.chunk_id: hit for hit in hybrid[:min(k, self.protected_hits)]}
        by_id = {hit.chunk_id: hit for hit in fused}
        hits = [by_id.get(chunk_id, hit) for chunk_id, hit in kept.items()]
        hits += [hit for hit in fused if hit.chunk_id not in kept]
        return hits[:k], graph_hits

    def _ranked(self, graph_hits: Sequence["GraphHit"]) -> list[tuple[int, float]]:
        rowids = self.searcher.store.rowids_for([hit.chunk_id for hit in graph_hits])
        return [(rowids[hit.chunk_id], hit.score) for hit in graph_hits if hit.chunk_id in rowids]

    def as_langchain(self, *, groups: Sequence[str] | None, k: int = 5, mode: str = "all") -> "LangchainRetriever":
        """This retriever as a langchain-core `BaseRetriever` bound to one reader's groups."""
        return LangchainRetriever(retriever=self, groups=None if groups is None else tuple(groups), k=k, mode=mode)


class LangchainRetriever(BaseRetriever):
    """langchain-core adapter: `invoke(query)` returns Documents with chunk metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any
    groups: tuple[str, ...] | None = None
    k: int = 5
    mode: str = "all"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.retriever.search(query, groups=self.groups, k=self.k, mode=self.mode)
        return [Document(page_content=hit.text, id=hit.chunk_id,
                         metadata={"chunk_id": hit.chunk_id, "doc_id": hit.doc_id, "source": hit.source,
                                   "title": hit.title, "score": hit.score, "label": str(hit.label),
                                   "retrievers": hit.retrievers, "graph_paths": hit.graph_paths})
                for hit in hits]
